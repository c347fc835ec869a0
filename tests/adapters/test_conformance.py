"""Every noiseless backend gives the ideal answer, in the portal's bit order (qubit 0 leftmost)."""

from __future__ import annotations

import pytest

from adapters import registry
from adapters.base import CapacityError, ExecutionRequest
from adapters.config import BackendConfig
from tests.adapters import circuits as fam

# Every registered noiseless backend, so a new one is held to the same answers the day it is added.
NOISELESS = [c.backend_id for c in registry.all_capabilities() if c.noise is None and not c.emulated]
GENERAL = [b for b in NOISELESS if "t" in registry.capabilities(b).native_gates]  # admit non-Clifford gates
SHOTS = 2000


def run(backend: str, circuit, *, shots: int = SHOTS, seed: int | None = 11, job: str = "job-1"):  # noqa: ANN001, ANN201
    return registry.get_adapter(backend).run(ExecutionRequest(job, circuit, shots, seed=seed))


@pytest.fixture(autouse=True)
def _registry(configured: BackendConfig) -> None:
    return None


def test_the_suite_covers_every_local_noiseless_simulator() -> None:
    assert NOISELESS == ["qsim", "cirq", "aer", "aer-mps", "aer-stabilizer"]
    assert GENERAL == ["qsim", "cirq", "aer", "aer-mps"]


@pytest.mark.parametrize("backend", NOISELESS)
def test_x_on_qubit_0_reads_100_on_every_backend(backend: str) -> None:
    circuit, _ = fam.asymmetric(3)
    result = run(backend, circuit, shots=200)
    assert result.counts == {"100": 200}
    assert result.backend_id == backend
    assert result.shots == 200


@pytest.mark.parametrize("backend", NOISELESS)
def test_measuring_a_subset_in_a_chosen_order_keeps_that_order(backend: str) -> None:
    from adapters.ir import Circuit, ops_from

    circuit = Circuit(4, ops_from([("x", [3])]), measure=(3, 0, 1))
    assert run(backend, circuit, shots=50).counts == {"100": 50}


@pytest.mark.parametrize("backend", NOISELESS)
@pytest.mark.parametrize("n", [2, 5])
def test_ghz_splits_between_all_zeros_and_all_ones(backend: str, n: int) -> None:
    circuit, ideal = fam.ghz(n)
    fam.assert_counts_match(run(backend, circuit).counts, ideal, SHOTS)


@pytest.mark.parametrize("backend", GENERAL)
def test_qft_of_a_basis_state_is_uniform(backend: str) -> None:
    circuit, ideal = fam.qft_of_basis_state(3, 5)
    fam.assert_counts_match(run(backend, circuit).counts, ideal, SHOTS)


@pytest.mark.parametrize("backend", GENERAL)
def test_inverse_qft_of_a_fourier_state_returns_the_basis_state(backend: str) -> None:
    circuit, ideal = fam.inverse_qft_recovers(4, 0b1011)
    assert run(backend, circuit, shots=300).counts == {"1011": 300}
    fam.assert_counts_match(run(backend, circuit, shots=300).counts, ideal, 300)


@pytest.mark.parametrize("backend", NOISELESS)
def test_bernstein_vazirani_returns_the_secret(backend: str) -> None:
    circuit, _ = fam.bernstein_vazirani("10110")
    assert run(backend, circuit, shots=100).counts == {"10110": 100}


@pytest.mark.parametrize("backend", GENERAL)
def test_mirror_circuit_returns_its_target(backend: str) -> None:
    circuit, _ = fam.mirror(5, "01101", clifford=False)
    assert run(backend, circuit, shots=200).counts == {"01101": 200}


@pytest.mark.parametrize("backend", NOISELESS)
def test_clifford_mirror_circuit_returns_its_target(backend: str) -> None:
    circuit, _ = fam.mirror(6, "110010", clifford=True)
    assert run(backend, circuit, shots=200).counts == {"110010": 200}


@pytest.mark.parametrize("backend", NOISELESS)
def test_same_seed_gives_the_same_counts_and_another_seed_does_not(backend: str) -> None:
    circuit, _ = fam.ghz(4)
    first = run(backend, circuit, seed=5, job="a").counts
    again = registry.get_adapter(backend).with_price(registry.capabilities(backend).price)
    assert again.run(ExecutionRequest("b", circuit, SHOTS, seed=5)).counts == first
    assert run(backend, circuit, seed=6, job="c").counts != first


@pytest.mark.parametrize("backend", NOISELESS)
def test_result_records_versions_seed_precision_and_timings(backend: str) -> None:
    circuit, _ = fam.ghz(3)
    result = run(backend, circuit, seed=42)
    assert result.seed == 42
    assert result.precision == registry.capabilities(backend).precision
    assert result.sdk_versions["qiskit"] and result.sdk_versions["cirq-core"]
    assert result.execute_seconds > 0 and result.transpile_seconds >= 0
    assert result.emulated is False


def test_mps_runs_ghz_far_past_the_statevector_limit() -> None:
    circuit, ideal = fam.ghz(60)
    assert registry.capabilities("aer").max_qubits < 60
    fam.assert_counts_match(run("aer-mps", circuit, shots=500).counts, ideal, 500)


def test_stabilizer_runs_a_wide_clifford_mirror() -> None:
    circuit, _ = fam.mirror(200, "1" * 100 + "0" * 100, clifford=True, depth=3)
    assert run("aer-stabilizer", circuit, shots=20).counts == {"1" * 100 + "0" * 100: 20}


def test_stabilizer_refuses_non_clifford_gates_naming_them() -> None:
    circuit, _ = fam.qft_of_basis_state(3, 1)
    adapter = registry.get_adapter("aer-stabilizer")
    assert "cp" not in registry.capabilities("aer-stabilizer").native_gates
    with pytest.raises(CapacityError, match="cp"):
        adapter.estimate(ExecutionRequest("j", circuit, 10))
    with pytest.raises(CapacityError, match="Clifford|admits only"):
        adapter.submit(ExecutionRequest("j", circuit, 10))


def test_resubmitting_the_same_job_id_returns_the_same_remote_id() -> None:
    circuit, _ = fam.ghz(3)
    adapter = registry.get_adapter("qsim")
    request = ExecutionRequest("job-same", circuit, 100, seed=1)
    assert adapter.submit(request) == adapter.submit(request)


def test_a_missing_local_result_says_to_resubmit() -> None:
    from adapters.base import UnknownRemoteJob

    with pytest.raises(UnknownRemoteJob, match="resubmit"):
        registry.get_adapter("qsim").result("qsim-0000")


def test_unseeded_request_derives_a_reproducible_seed_from_the_job_id() -> None:
    circuit, _ = fam.ghz(4)
    first = run("qsim", circuit, seed=None, job="job-x")
    second = registry.get_adapter("qsim").with_price(registry.capabilities("qsim").price)
    again = second.run(ExecutionRequest("job-x", circuit, SHOTS))
    assert first.seed is not None and again.seed == first.seed
    assert again.counts == first.counts
