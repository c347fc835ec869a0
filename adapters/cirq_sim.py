"""cirq.Simulator: the slow, simple reference for small circuits (tier 0, complex128)."""

from __future__ import annotations

import time
from typing import ClassVar

from adapters.base import ExecutionRequest, RunResult
from adapters.convert import MEASUREMENT_KEY, cirq_counts, to_cirq
from adapters.local import LocalSimulatorAdapter, simulator_seed


class CirqAdapter(LocalSimulatorAdapter):
    backend_id: ClassVar[str] = "cirq"
    tier: ClassVar[int] = 0
    precision: ClassVar[str] = "complex128"
    description: ClassVar[str] = "cirq reference statevector simulator (pure Python/numpy; small circuits)"
    # Each gate is a numpy call from Python (~0.2 ms) before its 2^n work: 37 ms for 180 gates at 12
    # qubits, 0.84 s for 270 at 18 (random circuits, depth 10).
    fixed_seconds: ClassVar[float] = 0.01
    per_gate_seconds: ClassVar[float] = 2e-4
    per_gate_amplitude_seconds: ClassVar[float] = 1e-8

    def qubit_limit(self) -> int:
        # Far below the memory guard: cirq.Simulator applies each gate in numpy and is ~50x slower than
        # qsim, so wide circuits belong on qsim/aer.
        return min(super().qubit_limit(), self.config.cirq_max_qubits)

    def _execute(self, request: ExecutionRequest, seed: int) -> RunResult:
        import cirq
        import numpy as np

        circuit = request.circuit
        t0 = time.perf_counter()
        program, reused = self.program_for(circuit, to_cirq)
        t1 = time.perf_counter()
        simulator = cirq.Simulator(dtype=np.complex128, seed=simulator_seed(seed))
        measurements = simulator.run(program, repetitions=request.shots).measurements[MEASUREMENT_KEY]
        t2 = time.perf_counter()
        return self.make_result(
            request,
            counts=cirq_counts(measurements, len(circuit.measured)),
            seed=seed,
            execute_seconds=t2 - t1,
            transpile_seconds=t1 - t0,
            metadata={"method": "statevector", "conversion_reused": reused},
        )
