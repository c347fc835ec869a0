"""qsim samples a noiseless circuit's final state through qsim directly (not qsimcirq's per-shot
conversion): the counts must be exactly those `QSimSimulator.run` gives for the same seed, so a job's
result does not depend on which path produced it and a seed stays reproducible."""

from __future__ import annotations

import pytest
import qsimcirq

from adapters import registry
from adapters.base import ExecutionRequest
from adapters.config import BackendConfig
from adapters.convert import MEASUREMENT_KEY, cirq_counts, to_cirq
from adapters.ir import Circuit, Op
from adapters.local import simulator_seed
from tests.adapters import circuits as fam

CIRCUITS = {
    "bell": fam.ghz(2)[0],
    "ghz5": fam.ghz(5)[0],
    # Measured out of order, one qubit never measured, one measured qubit without gates.
    "subset": Circuit(6, (Op("h", (0,)), Op("cx", (0, 3)), Op("h", (5,)), Op("x", (2,))), measure=(5, 0, 3, 4)),
    "rotations": Circuit(3, (Op("ry", (0,), (0.7,)), Op("cx", (0, 2)), Op("rz", (2,), (1.1,)), Op("h", (1,)))),
}


@pytest.fixture(autouse=True)
def _registry(configured: BackendConfig) -> None:
    return None


def qsimcirq_counts(circuit: Circuit, shots: int, seed: int) -> dict[str, int]:
    """What qsimcirq's own API gives for the adapter's options and seed."""
    adapter = registry.get_adapter("qsim")
    simulator = qsimcirq.QSimSimulator(qsim_options=adapter._qsim_options(), seed=simulator_seed(seed))
    bits = simulator.run(to_cirq(circuit), repetitions=shots).measurements[MEASUREMENT_KEY]
    return cirq_counts(bits, len(circuit.measured))


@pytest.mark.parametrize("name", sorted(CIRCUITS))
@pytest.mark.parametrize("seed", [1, 987654])
def test_counts_are_exactly_qsimcirqs_for_the_same_seed(name: str, seed: int) -> None:
    circuit = CIRCUITS[name]
    result = registry.get_adapter("qsim").run(ExecutionRequest(f"job-{name}-{seed}", circuit, 700, seed=seed))
    assert dict(result.counts) == qsimcirq_counts(circuit, 700, seed)
    assert sum(result.counts.values()) == 700 and all(len(b) == len(circuit.measured) for b in result.counts)


def test_a_second_run_of_the_same_circuit_reuses_its_translation_and_differs_only_by_seed() -> None:
    adapter = registry.get_adapter("qsim")
    circuit = CIRCUITS["ghz5"]
    first = adapter.run(ExecutionRequest("job-a", circuit, 400, seed=5))
    second = adapter.run(ExecutionRequest("job-b", circuit, 400, seed=6))
    assert second.metadata["conversion_reused"] is True
    assert set(first.counts) == set(second.counts) == {"00000", "11111"} and first.counts != second.counts
