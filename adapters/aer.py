"""Qiskit Aer backends.

* ``aer`` — statevector, complex128, tier 0.
* ``aer-mps`` — matrix product state, tier 1: wide, weakly entangled circuits (GHZ, mirror) far past
  the statevector guard.
* ``aer-stabilizer`` — Clifford tableau, tier 1: admits Clifford gates only (capabilities and estimate
  say so), thousands of qubits.
* ``aer-noisy:<fake_device>`` — tier 2: transpiled to the device and run with its calibration noise
  model restricted to the qubits the circuit touches; the calibration snapshot is on every result.

Aer counts come back with classical bit 0 rightmost; they are reversed to the portal's order here.
The AerSimulator object is built once per adapter; transpilation is skipped when every gate is
already in the method's basis (qiskit.transpile costs 70–130 ms even for tiny circuits).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from adapters.base import ExecutionRequest, PermanentBackendError, Price, RunResult
from adapters.config import BackendConfig
from adapters.convert import qiskit_counts_to_portal, to_qiskit
from adapters.devices import (
    TRANSPILE_SEED,
    DeviceInfo,
    active_qubits,
    device_info,
    pass_manager,
    restricted_noise_model,
)
from adapters.devices import backend as device_backend
from adapters.ir import Circuit
from adapters.local import LocalSimulatorAdapter, gate_work, simulator_seed

CLIFFORD_GATES = frozenset({"id", "x", "y", "z", "h", "s", "sdg", "sx", "sxdg", "cx", "cy", "cz", "swap", "barrier"})
# Noisy runs: exact density matrix while it is small (4^k), MPS trajectories above (for noisy GHZ(20)
# MPS is about 60 times faster than statevector trajectories, at the same fidelity).
DENSITY_MATRIX_MAX_QUBITS = 10


class AerAdapter(LocalSimulatorAdapter):
    backend_id: ClassVar[str] = "aer"
    tier: ClassVar[int] = 0
    precision: ClassVar[str] = "complex128"
    method: ClassVar[str] = "statevector"
    description: ClassVar[str] = "Qiskit Aer statevector simulator (complex128)"
    # 0.72 s at 20 qubits for depth-20 random circuits on a quiet machine, 2–3 s on a busy one.
    fixed_seconds: ClassVar[float] = 0.02
    per_gate_amplitude_seconds: ClassVar[float] = 3e-9

    _simulator: Any = None
    _basis: frozenset[str] | None = None

    def aer_options(self) -> dict[str, Any]:
        options = {"method": self.method, "precision": "double" if self.precision == "complex128" else "single"}
        return {**options, **self.thread_options()}

    def thread_options(self) -> dict[str, Any]:
        # 0 lets Aer use every core; a host running several workers caps it per worker.
        return {"max_parallel_threads": self.config.aer_threads} if self.config.aer_threads > 0 else {}

    def simulator(self) -> Any:
        if self._simulator is None:
            from qiskit_aer import AerSimulator

            self._simulator = AerSimulator(**self.aer_options())
            self._basis = frozenset(self._simulator.configuration().basis_gates) | {"barrier", "measure"}
        return self._simulator

    def _prepare(self, circuit: Circuit) -> tuple[Any, float, Mapping[str, Any]]:
        """The qiskit circuit ready for the simulator, the seconds spent preparing it, and notes."""
        t0 = time.perf_counter()
        self.simulator()
        basis = self._basis
        assert basis is not None
        missing = {op.name for op in circuit.ops} - basis

        def build(c: Circuit) -> Any:
            qc = to_qiskit(c)
            return self._decompose(qc, basis) if missing else qc

        qc, reused = self.program_for(circuit, build)
        notes: dict[str, Any] = {"conversion_reused": reused}
        if missing:
            notes["decomposed"] = sorted(missing)
        return qc, time.perf_counter() - t0, notes

    @staticmethod
    def _decompose(qc: Any, basis: frozenset[str]) -> Any:
        """Expand gates the method lacks (e.g. ch, iswap) by their definitions: a few ms, unlike transpile()."""
        for _ in range(4):
            missing = {inst.operation.name for inst in qc.data} - basis
            if not missing:
                return qc
            qc = qc.decompose(gates_to_decompose=sorted(missing))
        raise PermanentBackendError(f"cannot express {', '.join(sorted(missing))} in the simulator's basis")

    def _run_options(self, circuit: Circuit, qc: Any) -> dict[str, Any]:
        return {}

    def _execute(self, request: ExecutionRequest, seed: int) -> RunResult:
        circuit = request.circuit
        qc, prepare_seconds, notes = self._prepare(circuit)
        options = self._run_options(circuit, qc)
        t1 = time.perf_counter()
        result = self.simulator().run(qc, shots=request.shots, seed_simulator=simulator_seed(seed), **options).result()
        t2 = time.perf_counter()
        if not result.success:
            raise PermanentBackendError(f"{self.backend_id} failed: {result.status}", vendor_message=str(result.status))
        counts = qiskit_counts_to_portal(result.get_counts(0), len(circuit.measured))
        method = result.results[0].metadata.get("method", self.method)
        return self.make_result(
            request,
            counts=counts,
            seed=seed,
            execute_seconds=t2 - t1,
            transpile_seconds=prepare_seconds,
            metadata={"method": method, **notes, **self._result_notes(qc)},
        )

    def _result_notes(self, qc: Any) -> Mapping[str, Any]:
        return {}


class AerMpsAdapter(AerAdapter):
    backend_id: ClassVar[str] = "aer-mps"
    tier: ClassVar[int] = 1
    method: ClassVar[str] = "matrix_product_state"
    memory_guarded: ClassVar[bool] = False
    description: ClassVar[str] = "Aer matrix-product-state simulator: wide circuits with little entanglement"
    # Seconds per unit of `mps_work` (a gate's bond dimension cubed): 4.3 s for a 14-qubit depth-10
    # random circuit, 89–97 s at 18 qubits, where the bond dimension reaches its 2^(n/2) bound.
    per_bond_work_seconds: ClassVar[float] = 4e-9

    def qubit_limit(self) -> int:
        return self.config.mps_max_qubits

    def memory_estimate(self, circuit: Circuit) -> int:
        chi = 2 ** mps_bond_bits(circuit)[1]
        return circuit.n_qubits * 2 * chi * chi * 16

    def estimate_seconds(self, circuit: Circuit, shots: int) -> float:
        work, _ = mps_bond_bits(circuit)
        return 0.01 + self.per_bond_work_seconds * work + 2e-6 * shots * circuit.n_qubits


# Two-qubit gates whose operator Schmidt rank is 2 (controlled gates, exp(-iθ P⊗P)): each can at most
# double the bond dimension across the cuts it spans; any other (swap, iswap, three-qubit gates) 4x.
_RANK_2 = frozenset({"cx", "cy", "cz", "ch", "cp", "crx", "cry", "crz", "rxx", "ryy", "rzz"})


def mps_bond_bits(circuit: Circuit) -> tuple[float, int]:
    """An upper bound on a matrix-product-state run's work, and log2 of the largest bond dimension.

    The bond dimension across a cut between qubits i and i+1 is at most 2^min(i+1, n-i-1), and grows at
    most by a gate's operator Schmidt rank each time a gate spans the cut. A gate costs its bond
    dimension cubed, once per cut it spans (Aer swaps distant qubits together). Bounds, not the state's
    actual entanglement: GHZ chains stay cheap, random circuits reach 2^(n/2) within a few layers.
    """
    n = circuit.n_qubits
    bits = [0] * max(n - 1, 0)  # log2 of the bound at each cut
    ceiling = [min(i + 1, n - i - 1) for i in range(n - 1)]
    work = 0.0
    for op in circuit.ops:
        if op.name == "barrier":
            continue
        lo, hi = min(op.qubits), max(op.qubits)
        if lo == hi:
            near = [bits[c] for c in (lo - 1, lo) if 0 <= c < n - 1]
            work += 4.0 ** max(near, default=0)
            continue
        growth = 1 if op.name in _RANK_2 else 2
        top = 0
        for cut in range(lo, hi):
            bits[cut] = min(ceiling[cut], bits[cut] + growth)
            top = max(top, bits[cut])
        work += (hi - lo) * 8.0**top
    return work, max(bits, default=0)


class AerStabilizerAdapter(AerAdapter):
    backend_id: ClassVar[str] = "aer-stabilizer"
    tier: ClassVar[int] = 1
    method: ClassVar[str] = "stabilizer"
    precision: ClassVar[str] = "tableau"
    memory_guarded: ClassVar[bool] = False
    native_gates: ClassVar[frozenset[str]] = CLIFFORD_GATES
    description: ClassVar[str] = "Aer stabilizer (Clifford tableau) simulator: Clifford gates only, thousands of qubits"

    def aer_options(self) -> dict[str, Any]:
        return {"method": self.method, **self.thread_options()}

    def qubit_limit(self) -> int:
        return self.config.stabilizer_max_qubits

    def memory_estimate(self, circuit: Circuit) -> int:
        return (2 * circuit.n_qubits + 1) * 2 * circuit.n_qubits  # tableau bits, as bytes

    def estimate_seconds(self, circuit: Circuit, shots: int) -> float:
        return 0.005 + 1e-8 * gate_work(circuit) * circuit.n_qubits + 1e-8 * shots * circuit.n_qubits**2


class AerNoisyAdapter(AerAdapter):
    """Aer with a fake IBM device's calibration noise; the device is part of the backend id."""

    tier: ClassVar[int] = 2
    method: ClassVar[str] = "automatic"
    memory_guarded: ClassVar[bool] = False

    def __init__(self, device: str, config: BackendConfig | None = None, *, price: Price | None = None) -> None:
        super().__init__(config, price=price)
        self.device = device
        self.info: DeviceInfo = device_info(device)
        self.backend_id = f"aer-noisy:{device}"  # type: ignore[misc]  # per-instance id
        self.description = (  # type: ignore[misc]
            f"Aer with the {device} noise model (calibration {self.info.calibration_date})"
        )
        self._simulators: dict[str, Any] = {}

    @property
    def noise(self) -> str:
        return f"{self.device} calibration {self.info.calibration_date}"

    def calibration(self) -> Mapping[str, Any]:
        return self.info.calibration()

    def qubit_limit(self) -> int:
        return self.info.n_qubits

    def _noisy_method(self, n_active: int) -> str:
        return "density_matrix" if n_active <= DENSITY_MATRIX_MAX_QUBITS else "matrix_product_state"

    def memory_estimate(self, circuit: Circuit) -> int:
        n = circuit.n_qubits
        if self._noisy_method(n) == "density_matrix":
            return 16 * 4**n
        chi = 2 ** mps_bond_bits(circuit)[1]
        return n * 2 * chi * chi * 16

    def estimate_seconds(self, circuit: Circuit, shots: int) -> float:
        # The density matrix runs once (4.9 s for a 10-qubit depth-5 random circuit); MPS runs one noisy
        # trajectory per shot, each a whole noiseless run: GHZ(24) took 14 s for 1000 shots.
        n = circuit.n_qubits
        if self._noisy_method(n) == "density_matrix":
            return 0.5 + 6e-8 * gate_work(circuit) * 4.0**n
        work, _ = mps_bond_bits(circuit)
        per_shot = 2e-3 + 3e-4 * gate_work(circuit) + AerMpsAdapter.per_bond_work_seconds * work
        return 0.15 + per_shot * shots

    def simulator_for(self, method: str) -> Any:
        if method not in self._simulators:
            from qiskit_aer import AerSimulator

            self._simulators[method] = AerSimulator(method=method, **self.thread_options())
        return self._simulators[method]

    def _execute(self, request: ExecutionRequest, seed: int) -> RunResult:
        circuit = request.circuit
        device_backend(self.device)  # load (cached) before timing the transpile
        t0 = time.perf_counter()
        isa, reused = self.program_for(circuit, lambda c: pass_manager(self.device).run(to_qiskit(c)))
        t1 = time.perf_counter()
        used = active_qubits(isa)
        noise_model = restricted_noise_model(self.device, used)
        method = self._noisy_method(len(used))
        t2 = time.perf_counter()
        result = (
            self.simulator_for(method)
            .run(isa, shots=request.shots, seed_simulator=simulator_seed(seed), noise_model=noise_model)
            .result()
        )
        t3 = time.perf_counter()
        if not result.success:
            raise PermanentBackendError(f"{self.backend_id} failed: {result.status}", vendor_message=str(result.status))
        counts = qiskit_counts_to_portal(result.get_counts(0), len(circuit.measured))
        return self.make_result(
            request,
            counts=counts,
            seed=seed,
            execute_seconds=t3 - t2,
            transpile_seconds=t1 - t0,
            metadata={
                "method": method,
                "physical_qubits": sorted(used),
                "transpile_seed": TRANSPILE_SEED,
                "transpile_reused": reused,
                "two_qubit_gates": sum(1 for inst in isa.data if inst.operation.num_qubits == 2),
                "noise_model_build_seconds": round(t2 - t1, 4),
            },
        )
