"""qsim (Google's C++ statevector simulator through qsimcirq): the portal's fastest local backend.

``qsim``: noiseless, complex64, threads from config, seeded. ``qsim-noisy``: the same with a cirq
depolarising channel after every moment, simulated by quantum trajectories (one per shot); its
noise name is recorded on capabilities and on every result.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from adapters.base import ExecutionRequest, RunResult
from adapters.convert import MEASUREMENT_KEY, cirq_counts, to_cirq
from adapters.ir import Circuit
from adapters.local import LocalSimulatorAdapter, gate_work, simulator_seed


class QsimAdapter(LocalSimulatorAdapter):
    backend_id: ClassVar[str] = "qsim"
    tier: ClassVar[int] = 0
    precision: ClassVar[str] = "complex64"
    description: ClassVar[str] = "qsim statevector simulator (C++, complex64, multi-threaded)"
    # 55 ms for depth-20 random circuits at 20 qubits (~600 gates) on 2 cores, doubling per qubit.
    fixed_seconds: ClassVar[float] = 0.002
    per_gate_amplitude_seconds: ClassVar[float] = 8.5e-11
    per_shot_seconds: ClassVar[float] = 1e-6

    _options: Any = None

    def _qsim_options(self) -> Any:
        if self._options is None:
            import qsimcirq

            # One options object per adapter; the simulator itself is rebuilt per run because qsimcirq
            # draws each run's seed from its constructor's RNG (a fresh one makes a seed reproducible).
            self._options = qsimcirq.QSimOptions(cpu_threads=max(1, self.config.qsim_threads))
        return self._options

    def _noise_model(self) -> Any:
        return None

    def _execute(self, request: ExecutionRequest, seed: int) -> RunResult:
        import qsimcirq

        circuit = request.circuit
        t0 = time.perf_counter()
        program, reused = self.program_for(circuit, to_cirq)
        t1 = time.perf_counter()
        simulator = qsimcirq.QSimSimulator(
            qsim_options=self._qsim_options(), seed=simulator_seed(seed), noise=self._noise_model()
        )
        measurements = simulator.run(program, repetitions=request.shots).measurements[MEASUREMENT_KEY]
        t2 = time.perf_counter()
        counts = cirq_counts(measurements, len(circuit.measured))
        return self.make_result(
            request,
            counts=counts,
            seed=seed,
            execute_seconds=t2 - t1,
            transpile_seconds=t1 - t0,
            metadata={"threads": self.config.qsim_threads, "method": "statevector", "conversion_reused": reused},
        )


class QsimNoisyAdapter(QsimAdapter):
    backend_id: ClassVar[str] = "qsim-noisy"
    tier: ClassVar[int] = 2
    description: ClassVar[str] = "qsim with a depolarising channel after every moment (quantum trajectories)"
    # Trajectories re-run the circuit per shot: 36 ms at GHZ(5), 0.45 s at 15, 5.1 s at 20 (1000 shots).
    fixed_seconds: ClassVar[float] = 0.01
    per_gate_amplitude_seconds: ClassVar[float] = 2.5e-10

    @property
    def noise(self) -> str:
        return f"depolarize(p={self.config.qsim_noise_p:g}) after every moment"

    def _noise_model(self) -> Any:
        import cirq

        return cirq.ConstantQubitNoiseModel(cirq.depolarize(self.config.qsim_noise_p))

    def estimate_seconds(self, circuit: Circuit, shots: int) -> float:
        # One trajectory per shot: the whole circuit runs `shots` times.
        per_shot = self.per_gate_amplitude_seconds * (gate_work(circuit) + circuit.n_qubits) * 2.0**circuit.n_qubits
        return self.fixed_seconds + per_shot * shots
