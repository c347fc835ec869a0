"""Shared behaviour of local simulators: admit (gates, qubits, memory guard), estimate, run-in-submit.

`submit` runs the circuit synchronously and keeps the RunResult in a bounded in-process cache for
`poll`/`result`. Results are NOT persisted: after a worker restart `result()` raises
`UnknownRemoteJob`, and the jobs layer resubmits — which is safe and cheap because the same seed gives
the same counts, and a local simulator run costs nothing. (Persisting every result would put a JSON
write on the hot path of 50 ms jobs.)

Seeds: the request's seed (or, when absent, one derived from the job id) is recorded on the result;
the simulator gets a SHA-256 spread of it, because Aer seeds shot i with ``seed + i`` and consecutive
trial seeds would otherwise give nearly identical noisy samples.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

from adapters.base import (
    Adapter,
    Capabilities,
    CapacityError,
    Estimate,
    ExecutionRequest,
    PermanentBackendError,
    PollResult,
    Price,
    RemoteState,
    RunResult,
    UnknownRemoteJob,
)
from adapters.config import BackendConfig
from adapters.errors import sdk_errors
from adapters.ir import GATES, Circuit
from adapters.memory import guard, max_qubits
from adapters.versions import sdk_versions

ALL_GATES = frozenset(GATES)
PROGRAM_CACHE_SIZE = 32
# Gates with no effect on the state still count towards a circuit's work in the speed model.
_FREE_OPS = {"barrier"}


def resolve_seed(request: ExecutionRequest) -> int:
    """The request's seed, or a stable one derived from the job id (so a retry reproduces the counts)."""
    if request.seed is not None:
        return int(request.seed)
    return int.from_bytes(hashlib.sha256(request.job_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


def simulator_seed(seed: int) -> int:
    """Spread a user seed over 31 bits: consecutive user seeds must not give overlapping shot seeds."""
    return int.from_bytes(hashlib.sha256(f"hp-seed:{seed}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def request_key(request: ExecutionRequest) -> tuple[Any, ...]:
    """What makes two submits "the same request": compared by value, never hashed or serialised, so
    the idempotency check costs nothing on the hot path (a 600-gate circuit's JSON takes ~1 ms)."""
    return (request.circuit, request.shots, request.seed, dict(request.options))


def gate_work(circuit: Circuit) -> int:
    return sum(1 for op in circuit.ops if op.name not in _FREE_OPS)


class LocalSimulatorAdapter(Adapter):
    """A simulator that runs in this worker. Subclasses set the class attributes and `_execute`."""

    backend_id: ClassVar[str]
    tier: ClassVar[int] = 0
    precision: ClassVar[str] = "complex64"
    density: ClassVar[bool] = False  # density-matrix methods need 4^n, not 2^n
    memory_guarded: ClassVar[bool] = True  # False for MPS / stabilizer: not bounded by 2^n
    native_gates: ClassVar[frozenset[str]] = ALL_GATES
    description: ClassVar[str] = ""
    seeded: ClassVar[bool] = True
    # Speed model (seconds = fixed + (per_gate + per_gate_amplitude · 2^n) · gates + per_shot · shots),
    # calibrated on the 2-core reference machine. The portal quotes from stored runs once a backend has
    # them (jobs.estimates); this formula answers before that, so it errs on the slow side.
    fixed_seconds: ClassVar[float] = 0.002
    per_gate_seconds: ClassVar[float] = 0.0
    per_gate_amplitude_seconds: ClassVar[float] = 1e-10
    per_shot_seconds: ClassVar[float] = 1e-6

    def __init__(self, config: BackendConfig | None = None, *, price: Price | None = None) -> None:
        self.config = config or BackendConfig()
        self.price = price or Price()
        self._lock = threading.Lock()
        self._results: OrderedDict[str, RunResult] = OrderedDict()
        self._by_job: dict[str, tuple[tuple[Any, ...], str]] = {}  # job id → (request key, remote id)
        self._programs: OrderedDict[Circuit, Any] = OrderedDict()

    # --- description ---------------------------------------------------------------------------
    @property
    def noise(self) -> str | None:
        return None

    def calibration(self) -> Mapping[str, Any] | None:
        return None

    def qubit_limit(self) -> int:
        """Widest circuit admitted: the memory guard for 2^n methods; subclasses add their own caps."""
        return max_qubits(self.config.memory_limit_bytes, self.precision, density=self.density)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            backend_id=self.backend_id,
            tier=self.tier,
            max_qubits=self.qubit_limit(),
            native_gates=self.native_gates,
            noise=self.noise,
            seeded=self.seeded,
            precision=self.precision,
            price=self.price,
            description=self.description,
            calibration=self.calibration(),
        )

    def with_price(self, price: Price) -> Self:
        """The same backend billed differently (a DB price override); shares this instance's caches."""
        clone = copy.copy(self)
        clone.price = price
        return clone

    # --- admission and estimates ---------------------------------------------------------------
    def admit(self, circuit: Circuit) -> int:
        """Refuse (CapacityError) what this backend cannot run, before allocating; return state bytes."""
        unsupported = sorted({op.name for op in circuit.ops} - self.native_gates)
        if unsupported:
            raise CapacityError(
                f"{self.backend_id} does not support gate(s) {', '.join(unsupported)}; "
                f"it admits only {', '.join(sorted(self.native_gates))}"
            )
        limit = self.qubit_limit()
        if self.memory_guarded:
            need = guard(
                self.backend_id, circuit.n_qubits, self.precision, self.config.memory_limit_bytes, density=self.density
            )
        else:
            need = self.memory_estimate(circuit)
        if circuit.n_qubits > limit:
            raise CapacityError(f"{circuit.n_qubits} qubits is more than {self.backend_id} admits ({limit} qubits)")
        return need

    def memory_estimate(self, circuit: Circuit) -> int:
        return 0

    def estimate_seconds(self, circuit: Circuit, shots: int) -> float:
        per_gate = self.per_gate_seconds + self.per_gate_amplitude_seconds * 2.0**circuit.n_qubits
        return self.fixed_seconds + per_gate * gate_work(circuit) + self.per_shot_seconds * shots

    def estimate(self, request: ExecutionRequest) -> Estimate:
        memory = self.admit(request.circuit)
        seconds = self.estimate_seconds(request.circuit, request.shots)
        return Estimate(
            seconds=seconds,
            memory_bytes=memory,
            cost_micros=self.price.cost_micros(shots=request.shots, seconds=seconds),
        )

    # --- execution -----------------------------------------------------------------------------
    def submit(self, request: ExecutionRequest) -> str:
        circuit = request.circuit
        if not circuit.is_bound:
            raise PermanentBackendError(
                f"{self.backend_id}: unbound parameters {', '.join(sorted(circuit.parameters))}; bind them first"
            )
        if request.shots < 1:
            raise PermanentBackendError(f"{self.backend_id}: shots must be at least 1, got {request.shots}")
        self.admit(circuit)
        key = request_key(request)
        with self._lock:
            previous = self._by_job.get(request.job_id)
            if previous and previous[0] == key and previous[1] in self._results:
                return previous[1]  # the job id is the idempotency token: same request, same remote id
        seed = resolve_seed(request)
        with sdk_errors(self.backend_id):
            result = self._execute(request, seed)
        remote_id = f"{self.backend_id}-{uuid.uuid4().hex}"
        with self._lock:
            self._results[remote_id] = result
            self._by_job[request.job_id] = (key, remote_id)
            while len(self._results) > max(1, self.config.result_cache_size):
                evicted, _ = self._results.popitem(last=False)
                self._by_job = {j: v for j, v in self._by_job.items() if v[1] != evicted}
        return remote_id

    def _execute(self, request: ExecutionRequest, seed: int) -> RunResult:
        raise NotImplementedError

    def program_for(self, circuit: Circuit, build: Callable[[Circuit], Any]) -> tuple[Any, bool]:
        """The SDK program for `circuit`, converted once and reused (True when reused).

        Repeated trials and benchmark suites run the same circuit many times; converting (or, for
        device backends, transpiling) it again each time is pure overhead. Keyed by the IR value
        (equal circuits convert equally); SDK programs are never mutated by the simulators.
        """
        with self._lock:
            program = self._programs.get(circuit)
            if program is not None:
                self._programs.move_to_end(circuit)
                return program, True
        program = build(circuit)
        with self._lock:
            self._programs[circuit] = program
            while len(self._programs) > PROGRAM_CACHE_SIZE:
                self._programs.popitem(last=False)
        return program, False

    def _lookup(self, remote_id: str) -> RunResult:
        with self._lock:
            found = self._results.get(remote_id)
        if found is None:
            raise UnknownRemoteJob(
                f"{self.backend_id} has no result for {remote_id}: local results live in the worker that ran "
                "them (restarted or evicted); resubmit — the same seed gives the same counts"
            )
        return found

    def poll(self, remote_id: str) -> PollResult:
        self._lookup(remote_id)
        return PollResult(RemoteState.DONE, detail="ran synchronously in submit")

    def result(self, remote_id: str) -> RunResult:
        return self._lookup(remote_id)

    def cancel(self, remote_id: str) -> bool:
        """Local runs finish inside `submit`: there is never anything left to cancel."""
        self._lookup(remote_id)
        return False

    def make_result(
        self,
        request: ExecutionRequest,
        *,
        counts: dict[str, int],
        seed: int,
        execute_seconds: float,
        transpile_seconds: float,
        metadata: Mapping[str, Any] | None = None,
    ) -> RunResult:
        return RunResult(
            backend_id=self.backend_id,
            counts=counts,
            shots=request.shots,
            execute_seconds=execute_seconds,
            transpile_seconds=transpile_seconds,
            seed=seed,
            precision=self.precision,
            sdk_versions=sdk_versions(),
            calibration=self.calibration(),
            emulated=False,
            metadata={"noise": self.noise, "simulator_seed": simulator_seed(seed), **(metadata or {})},
        )
