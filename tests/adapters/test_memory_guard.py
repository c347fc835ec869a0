"""The memory guard refuses oversized circuits before allocating anything, naming what fits."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from adapters import registry
from adapters.base import CapacityError, ExecutionRequest
from adapters.config import GIB, BackendConfig
from adapters.ir import Circuit, ops_from
from adapters.memory import max_qubits, state_bytes

WIDE = Circuit(40, ops_from([("h", [q]) for q in range(40)]))


@pytest.fixture(autouse=True)
def _registry(configured: BackendConfig) -> None:
    return None


def test_40_qubit_statevector_is_refused_with_the_admitted_maximum() -> None:
    adapter = registry.get_adapter("qsim")
    request = ExecutionRequest("too-big", WIDE, 1000, seed=1)
    for call in (adapter.estimate, adapter.submit):
        with pytest.raises(CapacityError) as refused:
            call(request)
        message = str(refused.value)
        assert "40 qubits need 8.0 TiB for a complex64 statevector" in message
        assert "qsim admits at most 29 qubits with 8 GiB worker memory" in message


def test_refusal_allocates_nothing_and_returns_at_once() -> None:
    adapter = registry.get_adapter("aer")
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(CapacityError, match="aer admits at most 28 qubits"):
        adapter.submit(ExecutionRequest("too-big", WIDE, 1000, seed=1))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 1024**2  # a 40-qubit state would be 16 TiB; even a 20-qubit one is 16 MiB


def test_capabilities_report_the_guarded_width() -> None:
    assert registry.capabilities("qsim").max_qubits == 29
    assert registry.capabilities("aer").max_qubits == 28
    assert registry.capabilities("cirq").max_qubits == 20  # the slow reference is capped lower still


def test_guard_follows_the_configured_worker_memory(config: BackendConfig) -> None:
    from dataclasses import replace

    registry.configure(replace(config, memory_limit_bytes=1 * GIB))
    assert registry.capabilities("qsim").max_qubits == 26
    with pytest.raises(CapacityError, match="qsim admits at most 26 qubits with 1 GiB worker memory"):
        registry.get_adapter("qsim").estimate(ExecutionRequest("j", Circuit(27), 10))


def test_state_sizes_follow_the_documented_formula() -> None:
    assert state_bytes(30, "complex64") == 2**30 * 8
    assert state_bytes(30, "complex128") == 2**30 * 16
    assert state_bytes(10, "complex128", density=True) == 4**10 * 16
    assert max_qubits(8 * GIB, "complex128", density=True) == 14


def test_estimate_gives_seconds_memory_and_cost_for_a_fitting_circuit() -> None:
    circuit = Circuit(20, ops_from([("h", [q]) for q in range(20)]))
    estimate = registry.get_adapter("qsim").estimate(ExecutionRequest("j", circuit, 1000))
    assert estimate.memory_bytes == 2**20 * 8
    assert 0 < estimate.seconds < 1
    assert estimate.cost_micros == 0  # local simulators are free
    aer = registry.get_adapter("aer").estimate(ExecutionRequest("j", circuit, 1000))
    assert aer.seconds > 5 * estimate.seconds  # Aer is ~10x slower than qsim from 20 qubits


def test_cirq_reference_refuses_wide_circuits_with_a_pointer_to_its_cap() -> None:
    with pytest.raises(CapacityError, match=r"more than cirq admits \(20 qubits\)"):
        registry.get_adapter("cirq").estimate(ExecutionRequest("j", Circuit(22), 10))
