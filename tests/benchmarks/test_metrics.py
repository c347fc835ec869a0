"""Benchmark metrics: exact values on small hand-computed cases, and properties over random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs import metrics

BELL = {"00": 0.5, "11": 0.5}


# --- hand-computed values -------------------------------------------------------------------------
def test_hellinger_fidelity_of_half_the_shots_on_a_wrong_outcome():
    # p = {00: .5, 01: .5}, q = {00: .5, 11: .5}: Σ√(pq) = √.25 = .5, F = .25
    assert metrics.hellinger_fidelity({"00": 50, "01": 50}, BELL) == pytest.approx(0.25)


def test_hellinger_fidelity_of_a_perfect_bell_histogram_is_one():
    assert metrics.hellinger_fidelity({"00": 500, "11": 500}, BELL) == pytest.approx(1.0)


def test_uniform_floor_and_normalised_fidelity_of_ghz3():
    ghz3 = {"000": 0.5, "111": 0.5}
    # F₀ = (√.5 + √.5)² / 8 = 2/8
    assert metrics.uniform_floor(ghz3, 3) == pytest.approx(0.25)
    # all shots on 000: F = .5, F̃ = (.5 − .25)/(.75) = 1/3
    assert metrics.normalized_fidelity({"000": 10}, ghz3) == pytest.approx(1 / 3)
    # disjoint support: F = 0 → clipped to 0, not negative
    assert metrics.normalized_fidelity({"010": 10}, ghz3) == 0.0


def test_tvd_of_a_biased_coin():
    assert metrics.tvd({"0": 70, "1": 30}, {"0": 0.5, "1": 0.5}) == pytest.approx(0.2)


def test_mirror_polarisation_rescales_success_against_random_guessing():
    assert metrics.mirror_polarization(1.0, 3) == pytest.approx(1.0)
    assert metrics.mirror_polarization(1 / 8, 3) == pytest.approx(0.0)
    assert metrics.mirror_polarization(0.5, 1) == pytest.approx(0.0)
    assert metrics.mirror_polarization(0.75, 1) == pytest.approx(0.5)


def test_linear_xeb_is_one_for_a_delta_ideal_hit_every_time_scaled_by_dimension():
    # ideal uniform over 2 of 4 outcomes, all shots on them: 4 · .5 − 1 = 1
    assert metrics.linear_xeb({"00": 5, "11": 5}, {"00": 0.5, "11": 0.5}) == pytest.approx(1.0)
    # uniform noise over all 4 outcomes: 4 · (.25·.5 + .25·.5) − 1 = 0
    assert metrics.linear_xeb({"00": 1, "01": 1, "10": 1, "11": 1}, BELL) == pytest.approx(0.0)


def test_heavy_outputs_are_above_the_median_over_all_outcomes():
    ideal = {"00": 0.4, "01": 0.3, "10": 0.2, "11": 0.1}  # median .25 → heavy: 00, 01
    assert metrics.heavy_outputs(ideal) == {"00", "01"}
    assert metrics.heavy_output_probability({"00": 3, "10": 1}, ideal) == pytest.approx(0.75)
    # a sparse ideal counts the missing outcomes as zeros when taking the median
    assert metrics.heavy_outputs({"000": 0.5, "111": 0.5}) == {"000", "111"}


def test_quantum_volume_needs_the_mean_two_sigma_above_two_thirds():
    passes, mean, sigma = metrics.quantum_volume_pass([0.85] * 100)
    assert passes and mean == pytest.approx(0.85) and sigma == pytest.approx(math.sqrt(0.85 * 0.15 / 100))
    assert not metrics.quantum_volume_pass([0.7] * 3)[0]  # above 2/3 but not by 2σ with 3 circuits


def test_ghz_score_is_hellinger_against_the_ghz_state():
    assert metrics.ghz_score({"000": 50, "111": 50}) == pytest.approx(1.0)
    assert metrics.ghz_score({"000": 100}) == pytest.approx(0.5)


def test_wilson_interval_matches_the_textbook_case():
    # 8 of 10: Wilson 95 % ≈ [0.490, 0.943]
    interval = metrics.wilson_interval(8, 10)
    assert interval.estimate == 0.8
    assert interval.low == pytest.approx(0.4902, abs=1e-3) and interval.high == pytest.approx(0.9433, abs=1e-3)
    assert metrics.wilson_interval(0, 0).low == 0.0 and metrics.wilson_interval(0, 0).high == 1.0


def test_median_iqr_and_percentile():
    assert metrics.median_iqr([1, 2, 3, 4, 5]) == (3.0, 2.0, 4.0)
    assert metrics.percentile([0, 10], 95) == pytest.approx(9.5)
    assert math.isnan(metrics.percentile([], 50))


def test_perfect_sampler_floor_of_a_wide_random_distribution_is_about_a_tenth():
    # A perfect sampler of a 14-qubit random circuit scores F ≈ 0.10 with 1000 shots.
    rng = np.random.default_rng(7)
    weights = rng.exponential(size=2**14)  # Porter–Thomas
    ideal = {format(i, "014b"): w for i, w in enumerate(weights / weights.sum())}
    floor = metrics.perfect_sampler_floor(ideal, 1000, rng=1)
    assert 0.08 < floor < 0.13
    # a narrow distribution is sampled well: GHZ with 1000 shots is within a hair of 1
    assert metrics.perfect_sampler_floor({"000": 0.5, "111": 0.5}, 1000) > 0.999


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    values = [0.91, 0.93, 0.92, 0.95, 0.90]
    first = metrics.bootstrap_ci(values, seed=3)
    assert first.low <= np.mean(values) <= first.high
    assert first == metrics.bootstrap_ci(values, seed=3)


def test_paired_difference_is_significant_for_a_consistent_gap_and_not_for_noise():
    ideal = [0.99, 0.98, 0.995, 0.985, 0.99]
    noisy = [0.90, 0.88, 0.91, 0.89, 0.90]
    gap = metrics.paired_difference(ideal, noisy)
    assert gap.estimate == pytest.approx(-0.092) and not gap.spans_zero
    jitter = metrics.paired_difference([0.99, 0.98, 0.99, 0.98], [0.98, 0.99, 0.98, 0.99])
    assert jitter.spans_zero


def _ghz_counts(rng: np.random.Generator, shots: int = 500, error: float = 0.0) -> dict[str, int]:
    good, bad = rng.multinomial(shots, [1 - error, error])
    zeros = int(rng.binomial(good, 0.5))
    return {"000": zeros, "111": good - zeros, "010": int(bad)}


def test_shot_noise_replicates_are_centred_on_the_observed_fidelity():
    counts = {"000": 260, "111": 230, "010": 10}
    replicates = metrics.hellinger_resamples(counts, {"000": 0.5, "111": 0.5}, 500, seed=1)
    assert replicates.mean() == pytest.approx(metrics.hellinger_fidelity(counts, {"000": 0.5, "111": 0.5}))
    assert replicates.std() > 0


def test_two_identical_ideal_samplers_are_not_called_different_but_a_real_gap_is():
    # A bootstrap over 3 trial means alone calls same-signed jitter "significant" one time in four;
    # keeping each trial's shot noise in the interval does not.
    ideal = {"000": 0.5, "111": 0.5}
    rng = np.random.default_rng(2024)

    def fidelities(error: float, seed: int) -> tuple[list[float], list[np.ndarray]]:
        runs = [_ghz_counts(rng, error=error) for _ in range(3)]
        return (
            [metrics.hellinger_fidelity(c, ideal) for c in runs],
            [metrics.hellinger_resamples(c, ideal, 1000, seed=seed + i) for i, c in enumerate(runs)],
        )

    for k in range(25):
        (fa, ra), (fb, rb) = fidelities(0.0, 10 * k), fidelities(0.0, 10 * k + 5)
        assert metrics.two_stage_bootstrap(fb, rb, fa, ra, seed=k).spans_zero
    (fa, ra), (fb, rb) = fidelities(0.0, 1), fidelities(0.08, 2)
    gap = metrics.two_stage_bootstrap(fb, rb, fa, ra)
    assert not gap.spans_zero and gap.high < 0


# --- properties -----------------------------------------------------------------------------------
def _distribution(n_bits: int) -> st.SearchStrategy[dict[str, float]]:
    keys = st.sampled_from([format(i, f"0{n_bits}b") for i in range(2**n_bits)])
    return st.dictionaries(keys, st.floats(0.01, 1.0), min_size=1).map(
        lambda d: {k: v / sum(d.values()) for k, v in d.items()}
    )


def _counts(n_bits: int) -> st.SearchStrategy[dict[str, int]]:
    keys = st.sampled_from([format(i, f"0{n_bits}b") for i in range(2**n_bits)])
    return st.dictionaries(keys, st.integers(1, 1000), min_size=1)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["000", "001", "010", "011", "100", "101", "110", "111"]), st.integers(1, 50), min_size=1
    ),
    st.integers(1, 20),
)
def test_counts_exactly_proportional_to_the_ideal_score_one(weights, scale):
    total = sum(weights.values())
    ideal = {b: w / total for b, w in weights.items()}
    counts = {b: w * scale for b, w in weights.items()}
    assert metrics.hellinger_fidelity(counts, ideal) == pytest.approx(1.0)
    assert metrics.tvd(counts, ideal) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(_counts(3), _distribution(3))
def test_fidelity_and_tvd_stay_in_range_and_tvd_is_symmetric(counts, ideal):
    assert 0.0 <= metrics.hellinger_fidelity(counts, ideal) <= 1.0
    distance = metrics.tvd(counts, ideal)
    assert 0.0 <= distance <= 1.0
    assert distance == pytest.approx(metrics.tvd(ideal, counts))
    normalised = metrics.normalized_fidelity(counts, ideal)
    assert math.isnan(normalised) or 0.0 <= normalised <= 1.0


@settings(max_examples=60, deadline=None)
@given(_distribution(3), st.integers(1, 100))
def test_a_uniform_sampler_scores_zero_normalised_fidelity(ideal, per_outcome):
    if metrics.uniform_floor(ideal, 3) > 0.999:
        return  # a uniform ideal: F̃ is undefined
    uniform = {format(i, "03b"): per_outcome for i in range(8)}
    assert metrics.normalized_fidelity(uniform, ideal) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_observed_rate_and_stays_in_unit_range(case):
    successes, n = case
    interval = metrics.wilson_interval(successes, n)
    assert 0.0 <= interval.low <= interval.high <= 1.0
    if n:
        assert interval.low <= successes / n <= interval.high
