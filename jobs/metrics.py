"""Benchmark metrics and interval helpers: pure functions, no ORM, no SDK.

Conventions: ``counts`` map a bitstring (qubit 0 leftmost) to how often it was measured; ``ideal``
maps a bitstring to its exact probability (outcomes it leaves out have probability 0). Both may be
sparse. Formulas and their sources are in each docstring (SupermarQ, QED-C, qiskit-experiments,
Proctor et al. 2021, Cross et al. 2019).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Z_95 = 1.96  # two-sided 95 %
Distribution = Mapping[str, float]


# --- distributions --------------------------------------------------------------------------------
def normalise(counts: Mapping[str, float]) -> dict[str, float]:
    """Counts (or weights) → probabilities summing to 1. Refuses negative weights and an empty total."""
    if any(v < 0 for v in counts.values()):
        raise ValueError("counts must not be negative")
    total = float(sum(counts.values()))
    if total <= 0:
        raise ValueError("counts are empty")
    return {b: v / total for b, v in counts.items() if v}


def width(*distributions: Mapping[str, float]) -> int:
    """The bitstring width shared by the distributions (ValueError when they disagree)."""
    widths = {len(b) for d in distributions for b in d}
    if len(widths) != 1:
        raise ValueError(f"bitstrings of different widths: {sorted(widths)}")
    return widths.pop()


def hellinger_fidelity(counts: Mapping[str, float], ideal: Distribution) -> float:
    """Hellinger fidelity F = (Σₓ √(p(x)·q(x)))² of the measured frequencies p against the ideal q.

    1 for a perfect match, 0 for disjoint supports. (SupermarQ; qiskit.quantum_info.hellinger_fidelity.)
    """
    p, q = normalise(counts), normalise(ideal)
    overlap = sum(math.sqrt(px * q[x]) for x, px in p.items() if x in q)
    return min(1.0, overlap**2)


def uniform_floor(ideal: Distribution, n_bits: int) -> float:
    """F₀ = F(uniform, ideal) = (Σₓ √q(x))² / 2ⁿ: what a sampler that ignores the circuit scores.

    The baseline of the QED-C normalised fidelity (Lubinski et al., "Application-Oriented Performance
    Benchmarks for Quantum Computing", 2021).
    """
    q = normalise(ideal)
    return min(1.0, sum(math.sqrt(v) for v in q.values()) ** 2 / 2.0**n_bits)


def normalized_fidelity(counts: Mapping[str, float], ideal: Distribution, n_bits: int | None = None) -> float:
    """QED-C normalised fidelity F̃ = (F − F₀)/(1 − F₀), clipped to [0, 1].

    0 for a sampler no better than uniform noise, 1 for a perfect match. NaN when the ideal itself is
    uniform (F₀ = 1): then no sampler can be told apart from noise.
    """
    n = n_bits if n_bits is not None else width(counts, ideal)
    f0 = uniform_floor(ideal, n)
    if f0 >= 1.0 - 1e-12:
        return math.nan
    return min(1.0, max(0.0, (hellinger_fidelity(counts, ideal) - f0) / (1.0 - f0)))


def tvd(counts: Mapping[str, float], ideal: Distribution) -> float:
    """Total variation distance ½ Σₓ |p(x) − q(x)|, in [0, 1]; symmetric in its arguments."""
    p, q = normalise(counts), normalise(ideal)
    return min(1.0, 0.5 * sum(abs(p.get(x, 0.0) - q.get(x, 0.0)) for x in p.keys() | q.keys()))


def _fidelities_of_draws(draws: np.ndarray, sqrt_q: np.ndarray, shots: int) -> np.ndarray:
    """Hellinger fidelity of each row of multinomial draws over the ideal's support."""
    return (np.sqrt(draws / shots) @ sqrt_q) ** 2


def perfect_sampler_floor(
    ideal: Distribution, shots: int, rng: np.random.Generator | int | None = 0, draws: int = 64
) -> float:
    """The expected Hellinger fidelity of a *perfect* sampler that draws `shots` samples from the ideal.

    A finite sample of a wide distribution misses most outcomes, so even a perfect device scores below
    1 — at 14 qubits and 1000 shots about 0.10 on a Porter–Thomas distribution. Show it
    beside every measured fidelity: a fidelity near this floor is as good as the shots allow.
    Estimated by Monte Carlo over `draws` multinomial draws from a seeded generator.
    """
    if shots < 1:
        raise ValueError("shots must be at least 1")
    q = normalise(ideal)
    probs = np.fromiter(q.values(), dtype=float, count=len(q))
    probs = probs / probs.sum()
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    samples = generator.multinomial(shots, probs, size=draws)
    return float(np.mean(_fidelities_of_draws(samples, np.sqrt(probs), shots)))


def heavy_outputs(ideal: Distribution, n_bits: int | None = None) -> frozenset[str]:
    """Bitstrings whose ideal probability is above the median over all 2ⁿ outcomes (Cross et al. 2019)."""
    n = n_bits if n_bits is not None else width(ideal)
    values = np.fromiter(ideal.values(), dtype=float, count=len(ideal))
    missing = 2**n - len(ideal)
    median = float(np.median(np.concatenate([values, np.zeros(max(missing, 0))])))
    return frozenset(b for b, v in ideal.items() if v > median)


def heavy_output_probability(counts: Mapping[str, float], ideal: Distribution, n_bits: int | None = None) -> float:
    """The share of shots that landed on heavy outputs. Quantum volume 2ⁿ passes when the mean over
    ≥ 100 random model circuits exceeds 2/3 by two standard errors (`quantum_volume_pass`)."""
    heavy = heavy_outputs(ideal, n_bits if n_bits is not None else width(counts, ideal))
    return sum(p for b, p in normalise(counts).items() if b in heavy)


QV_THRESHOLD = 2.0 / 3.0
QV_MIN_TRIALS = 100


def quantum_volume_pass(hops: Sequence[float]) -> tuple[bool, float, float]:
    """(passes, mean HOP, σ) with σ = √(h̄(1 − h̄)/n) over the circuits (qiskit-experiments'
    `QuantumVolumeAnalysis`): pass when h̄ − 2σ > 2/3. A claim needs ≥ 100 circuits; fewer is noted
    by the caller, not refused here."""
    if not hops:
        return False, math.nan, math.nan
    mean = float(np.mean(hops))
    sigma = math.sqrt(max(mean * (1 - mean), 0.0) / len(hops))
    return mean - 2 * sigma > QV_THRESHOLD, mean, sigma


def success_probability(counts: Mapping[str, float], ideal: Distribution) -> float:
    """The share of shots on outcomes the ideal allows (for one-answer circuits: the right answer)."""
    return sum(p for b, p in normalise(counts).items() if ideal.get(b, 0.0) > 0)


MIRROR_PASS = 1.0 / math.e


def mirror_polarization(success_probability: float, width: int) -> float:
    """Mirror-circuit polarisation (S − 2⁻ʷ)/(1 − 2⁻ʷ) (Proctor et al. 2021): 1 perfect, 0 noise;
    a circuit passes at ≥ 1/e. Not clipped: a value below 0 means worse than random guessing."""
    floor = 2.0**-width
    return (success_probability - floor) / (1.0 - floor)


def linear_xeb(counts: Mapping[str, float], ideal: Distribution, n_bits: int | None = None) -> float:
    """Linear cross-entropy fidelity 2ⁿ · mean over shots of q(xᵢ) − 1 (Arute et al. 2019):
    ≈ 1 for a perfect sampler of a Porter–Thomas distribution, ≈ 0 for uniform noise."""
    n = n_bits if n_bits is not None else width(counts, ideal)
    return 2.0**n * sum(p * ideal.get(b, 0.0) for b, p in normalise(counts).items()) - 1.0


def ghz_score(counts: Mapping[str, float]) -> float:
    """SupermarQ GHZ score: Hellinger fidelity against ½|0…0⟩ + ½|1…1⟩ at the counts' width."""
    n = width(counts)
    return hellinger_fidelity(counts, {"0" * n: 0.5, "1" * n: 0.5})


# --- intervals ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval [low, high]."""

    estimate: float
    low: float
    high: float

    @property
    def spans_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    def as_dict(self) -> dict[str, float | None]:
        return {"estimate": _finite(self.estimate), "low": _finite(self.low), "high": _finite(self.high)}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def wilson_interval(successes: int, n: int, z: float = Z_95) -> Interval:
    """Wilson score interval for a proportion (Wilson 1927): stays inside [0, 1] and behaves at 0 and n,
    unlike p̂ ± z√(p̂(1−p̂)/n). With n = 0 nothing is known: [0, 1] around NaN."""
    if n <= 0:
        return Interval(math.nan, 0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def bootstrap_ci(
    values: Sequence[float] | Sequence[Sequence[float]] | np.ndarray,
    stat: Callable[[np.ndarray], float] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """Percentile bootstrap CI of `stat` (default: the mean) over `values` (Efron & Tibshirani 1993).

    `values` is 1-D (one value per trial) or 2-D (one row per trial, e.g. (a, b) pairs of two
    backends on the same trial): rows are resampled whole, so pairs stay paired. `stat` gets the
    resampled array (rows × columns for 2-D). Seeded: the same inputs give the same interval.
    With one value the interval is that value; with none, NaN.
    """
    data = np.asarray(values, dtype=float)
    fn = stat or (lambda a: float(np.mean(a)))
    if len(data) == 0:
        return Interval(math.nan, math.nan, math.nan)
    estimate = float(fn(data))
    if len(data) == 1:
        return Interval(estimate, estimate, estimate)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(data), size=(n_resamples, len(data)))
    if stat is None and data.ndim == 1:
        stats = data[idx].mean(axis=1)  # the common case, vectorised
    else:
        stats = np.fromiter((fn(data[row]) for row in idx), dtype=float, count=n_resamples)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(estimate, float(min(low, estimate)), float(max(high, estimate)))


def paired_difference(
    reference: Sequence[float], other: Sequence[float], n_resamples: int = 2000, seed: int = 0
) -> Interval:
    """Mean of (other − reference) over matched trials, with a paired bootstrap 95 % CI.

    Pairing (trial i of both backends ran the same circuit with the same seed) removes the
    between-trial variation both share, so small real differences show."""
    if len(reference) != len(other):
        raise ValueError("paired samples must have the same length")
    # Resampling whole (reference, other) rows and taking the mean difference is resampling the
    # per-trial differences: the same interval, computed vectorised.
    differences = np.asarray(other, dtype=float) - np.asarray(reference, dtype=float)
    return bootstrap_ci(differences, n_resamples=n_resamples, seed=seed)


def hellinger_resamples(
    counts: Mapping[str, float], ideal: Distribution, n_resamples: int = 2000, seed: int = 0
) -> np.ndarray:
    """Shot-noise replicates of one trial's Hellinger fidelity: the counts redrawn (multinomial, same
    shots, from the observed frequencies) `n_resamples` times, each scored against the ideal.

    Bias-corrected: F is concave near a perfect match, so redrawn histograms score lower on average
    than the one observed; the replicates are shifted so their mean is the observed F (the usual
    bootstrap bias correction), leaving only their spread — the trial's shot-noise uncertainty —
    and clipped to [0, 1].
    """
    p = normalise(counts)
    shots = max(1, round(sum(counts.values())))
    q = normalise(ideal)
    outcomes = list(p)
    probs = np.fromiter((p[x] for x in outcomes), dtype=float, count=len(outcomes))
    sqrt_q = np.sqrt(np.fromiter((q.get(x, 0.0) for x in outcomes), dtype=float, count=len(outcomes)))
    draws = np.random.default_rng(seed).multinomial(shots, probs / probs.sum(), size=n_resamples)
    replicates = _fidelities_of_draws(draws, sqrt_q, shots)
    shifted = replicates + (hellinger_fidelity(counts, ideal) - float(np.mean(replicates)))
    return np.clip(shifted, 0.0, 1.0)  # a fidelity stays a fidelity


def two_stage_bootstrap(
    estimates: Sequence[float],
    replicates: Sequence[np.ndarray],
    reference_estimates: Sequence[float] | None = None,
    reference_replicates: Sequence[np.ndarray] | None = None,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """95 % CI of a mean over trials that resamples both the trials and, within each, its shots.

    With few trials a bootstrap over trial means alone is far too narrow — at 3 trials it calls any
    three same-signed differences significant, which two identical ideal simulators produce one time
    in four. Drawing each resampled trial's value from its shot-noise replicates (`hellinger_resamples`)
    keeps the shot noise in the interval. It counts shot noise twice when trials are many, so it errs
    on the wide side (Davison & Hinkley 1997, §3.8): a greyed difference is "not shown", never
    "shown equal".

    With `reference_*` the interval is of the paired difference mean(this − reference): trial i of
    both is resampled together (same circuit, same seed), their shot noise independently.
    """
    est = np.asarray(estimates, dtype=float)
    if len(est) == 0:
        return Interval(math.nan, math.nan, math.nan)
    reps = np.vstack(replicates)  # trials × resamples
    if reference_estimates is not None and reference_replicates is not None:
        est = est - np.asarray(reference_estimates, dtype=float)
        reps = reps - np.vstack(reference_replicates)
    n_trials, n_resamples = reps.shape
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, n_trials, size=(n_resamples, n_trials))
    stats = reps[picked, np.arange(n_resamples)[:, None]].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    estimate = float(est.mean())
    return Interval(estimate, float(min(low, estimate)), float(max(high, estimate)))


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0–100, linear interpolation); NaN for no values."""
    data = np.asarray(list(values), dtype=float)
    return float(np.percentile(data, q)) if len(data) else math.nan


def median_iqr(values: Iterable[float]) -> tuple[float, float, float]:
    """(median, 25th percentile, 75th percentile) — for times, whose tails make means misleading."""
    data = list(values)
    return percentile(data, 50), percentile(data, 25), percentile(data, 75)
