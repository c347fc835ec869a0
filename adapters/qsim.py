"""qsim (Google's C++ statevector simulator through qsimcirq): the portal's fastest local backend.

``qsim``: noiseless, complex64, threads from config, seeded. ``qsim-noisy``: the same with a cirq
depolarising channel after every moment, simulated by quantum trajectories (one per shot); its
noise name is recorded on capabilities and on every result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
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
    _sampler: Any = None  # (qsim module, options dict) for _sample_final

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
        if self._noise_model() is None and request.shots > 1:
            sampling, reused = self.program_for(circuit, _final_state_sampling)
            if sampling.translated is not None:
                t1 = time.perf_counter()
                bits = self._sample_final(sampling, shots=request.shots, seed=seed)
                t2 = time.perf_counter()
                return self._result(request, seed, cirq_counts(bits, len(circuit.measured)), t0, t1, t2, reused)
            program = sampling.program
        else:
            program, reused = self.program_for(circuit, to_cirq)
        t1 = time.perf_counter()
        simulator = qsimcirq.QSimSimulator(
            qsim_options=self._qsim_options(), seed=simulator_seed(seed), noise=self._noise_model()
        )
        measurements = simulator.run(program, repetitions=request.shots).measurements[MEASUREMENT_KEY]
        t2 = time.perf_counter()
        return self._result(request, seed, cirq_counts(measurements, len(circuit.measured)), t0, t1, t2, reused)

    def _sample_final(self, sampling: _Sampling, *, shots: int, seed: int) -> Any:
        """`shots` samples of the final state as a (shots × measured) 0/1 array: what
        `QSimSimulator.run` computes for a noiseless circuit measured at the end — the same qsim call
        with the same seed, so the same samples — without its per-shot, per-qubit Python conversion
        (~7 ms at 22 qubits and 1000 shots) or translating the circuit again on every run."""
        import cirq
        import numpy as np
        import qsimcirq

        if self._sampler is None:
            simulator = qsimcirq.QSimSimulator(qsim_options=self._qsim_options())
            self._sampler = (simulator._sim_module, simulator.qsim_options)
        module, options = self._sampler
        # The seed QSimSimulator(seed=...).run would draw for its one call to qsim.
        draw = cirq.value.parse_random_state(simulator_seed(seed)).randint(2**31 - 1)
        raw = np.asarray(module.qsim_sample_final({**options, "c": sampling.translated, "s": draw}, shots))
        return (raw.astype(np.uint64)[:, None] >> np.asarray(sampling.shifts, dtype=np.uint64)) & np.uint64(1)

    def _result(
        self,
        request: ExecutionRequest,
        seed: int,
        counts: dict[str, int],
        t0: float,
        t1: float,
        t2: float,
        reused: bool,
    ) -> RunResult:
        return self.make_result(
            request,
            counts=counts,
            seed=seed,
            execute_seconds=t2 - t1,
            transpile_seconds=t1 - t0,
            metadata={"threads": self.config.qsim_threads, "method": "statevector", "conversion_reused": reused},
        )


@dataclass(frozen=True)
class _Sampling:
    """A circuit prepared for sampling its final state: the cirq program (with its measurement), and
    qsim's translation of it with the measurement replaced by identities (as qsimcirq does before it
    samples), plus where each measured qubit's bit sits in qsim's sampled integers. `translated` is None
    where qsimcirq's own path is needed (more than 62 qubits)."""

    program: Any
    translated: Any
    shifts: tuple[int, ...]


def _final_state_sampling(circuit: Circuit) -> _Sampling:
    import cirq
    import qsimcirq

    program = to_cirq(circuit)
    ordered = sorted(program.all_qubits())  # qsim's qubit order (cirq.QubitOrder.DEFAULT)
    if len(ordered) > 62:
        return _Sampling(program, None, ())
    *gates, measure = program.moments  # to_cirq measures once, in the last moment
    measured = measure.operations[0].qubits
    identities = cirq.Moment(cirq.IdentityGate(1).on(q) for q in measured)
    translated, _ = qsimcirq.QSimCircuit(cirq.Circuit.from_moments(*gates, identities)).translate_cirq_to_qsim(
        cirq.QubitOrder.DEFAULT
    )
    index = {q: i for i, q in enumerate(ordered)}
    # qsim packs the first qubit in the order into the highest bit.
    return _Sampling(program, translated, tuple(len(ordered) - 1 - index[q] for q in measured))


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
