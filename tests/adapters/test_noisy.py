"""Noisy simulators: measurably imperfect, far from random, and they say which noise they used."""

from __future__ import annotations

import time

import pytest

from adapters import registry
from adapters.base import ExecutionRequest
from adapters.config import BackendConfig
from tests.adapters import circuits as fam

SHOTS = 2000


@pytest.fixture(autouse=True)
def _registry(configured: BackendConfig) -> None:
    return None


@pytest.mark.parametrize("backend", ["qsim-noisy", "aer-noisy:fake_manila"])
def test_noisy_ghz_fidelity_is_below_one_and_above_the_uniform_floor(backend: str) -> None:
    circuit, ideal = fam.ghz(4)
    result = registry.get_adapter(backend).run(ExecutionRequest("noisy-1", circuit, SHOTS, seed=3))
    fidelity = fam.hellinger_fidelity(result.counts, ideal)
    uniform_floor = fam.hellinger_fidelity({format(i, "04b"): 1 for i in range(16)}, ideal)
    assert uniform_floor == pytest.approx(0.125)
    assert 0.5 < fidelity < 0.99, fidelity
    assert len(result.counts) > 2  # errors put weight outside 0000/1111
    assert all(len(k) == 4 for k in result.counts)


def test_qsim_noisy_records_its_noise_model() -> None:
    circuit, _ = fam.ghz(3)
    result = registry.get_adapter("qsim-noisy").run(ExecutionRequest("noisy-2", circuit, 100, seed=1))
    caps = registry.capabilities("qsim-noisy")
    assert caps.tier == 2
    assert caps.noise and "depolarize(p=0.01)" in caps.noise
    assert result.metadata["noise"] == caps.noise


def test_aer_noisy_result_carries_the_device_calibration_snapshot() -> None:
    circuit, _ = fam.ghz(3)
    result = registry.get_adapter("aer-noisy:fake_manila").run(ExecutionRequest("noisy-3", circuit, 100, seed=1))
    assert result.calibration is not None
    assert result.calibration["device"] == "fake_manila"
    assert result.calibration["calibration_date"].startswith("2024-05-27")
    assert result.calibration["snapshot"].startswith("qiskit-ibm-runtime ")
    assert result.calibration["snapshot"].endswith(" fake_manila")
    assert result.emulated is False  # a noisy simulator, not an emulated hardware run
    assert result.transpile_seconds > 0
    assert set(result.metadata["physical_qubits"]) <= set(range(5))


def test_aer_noisy_is_seeded_and_asymmetric_circuits_keep_qubit_0_leftmost() -> None:
    circuit, _ = fam.asymmetric(3)
    adapter = registry.get_adapter("aer-noisy:fake_manila")
    first = adapter.run(ExecutionRequest("noisy-4", circuit, 500, seed=9)).counts
    assert max(first, key=first.get) == "100"  # readout errors aside, qubit 0 is the one that flipped
    assert adapter.run(ExecutionRequest("noisy-5", circuit, 500, seed=9)).counts == first


def test_aer_noisy_second_run_reuses_the_device_model() -> None:
    """The noise model is built once per process; later runs pay only transpile + a restricted model."""
    circuit, _ = fam.ghz(5)
    adapter = registry.get_adapter("aer-noisy:fake_manila")
    adapter.run(ExecutionRequest("warm", circuit, 100, seed=1))
    started = time.perf_counter()
    adapter.run(ExecutionRequest("timed", circuit, 1000, seed=2))
    assert time.perf_counter() - started < 1.0


@pytest.mark.slow
def test_a_big_device_runs_small_circuits_fast_once_its_model_is_built() -> None:
    """fake_torino has 133 qubits: converting its whole noise model takes seconds on every run; the
    model restricted to the 5 qubits GHZ(5) uses runs in well under a second."""
    circuit, ideal = fam.ghz(5)
    adapter = registry.get_adapter("aer-noisy:fake_torino")
    assert registry.capabilities("aer-noisy:fake_torino").max_qubits == 133
    adapter.run(ExecutionRequest("torino-warm", circuit, 100, seed=1))  # builds the device model once
    started = time.perf_counter()
    result = adapter.run(ExecutionRequest("torino-timed", fam.ghz(5)[0], 1000, seed=2))
    assert time.perf_counter() - started < 1.5
    assert len(result.metadata["physical_qubits"]) == 5
    assert 0.5 < fam.hellinger_fidelity(result.counts, ideal) < 0.99
    assert result.calibration and result.calibration["calibration_date"].startswith("2025-02-26")
