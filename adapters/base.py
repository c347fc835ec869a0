"""The one interface every backend implements, and the value types it speaks.

Submit and poll are separate so a worker never blocks on a vendor queue, and a restarted worker
resumes by remote id. Local simulators run inside `submit` and keep the result for `result`.
The job id is passed as the vendor idempotency token. This package imports no Django model.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from adapters.ir import Circuit

MICROS = 1_000_000


class PriceKind(StrEnum):
    FREE = "free"
    PER_TASK_SHOT = "per_task_shot"  # Braket: fee per task + fee per shot
    PER_SECOND = "per_second"  # IBM pay-as-you-go: per QPU second
    PER_MINUTE = "per_minute"  # SV1: per simulated minute, with a minimum


@dataclass(frozen=True)
class Price:
    """A backend's price model; amounts in integer micro-units of the portal currency."""

    kind: PriceKind = PriceKind.FREE
    per_task_micros: int = 0
    per_shot_micros: int = 0
    per_second_micros: int = 0
    per_minute_micros: int = 0
    min_seconds: float = 0.0

    def cost_micros(self, *, shots: int, seconds: float) -> int:
        if self.kind is PriceKind.FREE:
            return 0
        if self.kind is PriceKind.PER_TASK_SHOT:
            return self.per_task_micros + self.per_shot_micros * shots
        billable = max(seconds, self.min_seconds)
        if self.kind is PriceKind.PER_SECOND:
            return math.ceil(self.per_second_micros * billable)
        return math.ceil(self.per_minute_micros * billable / 60.0)

    def describe(self, currency: str = "") -> str:
        """For people, e.g. "USD 1.60 per QPU-second": cents always shown, smaller digits when set."""

        def money(m: int) -> str:
            text = f"{m / MICROS:.6f}".rstrip("0")
            whole, _, fraction = text.partition(".")
            return f"{currency} {whole}.{fraction.ljust(2, '0')}".strip()

        match self.kind:
            case PriceKind.FREE:
                return "free"
            case PriceKind.PER_TASK_SHOT:
                return f"{money(self.per_task_micros)} per task + {money(self.per_shot_micros)} per shot"
            case PriceKind.PER_SECOND:
                return f"{money(self.per_second_micros)} per QPU-second"
            case _:
                return f"{money(self.per_minute_micros)} per simulated minute (at least {self.min_seconds:g} s a task)"


@dataclass(frozen=True)
class Capabilities:
    backend_id: str  # e.g. "qsim", "aer-noisy:fake_torino", "ibm:fake_torino"
    tier: int  # 0 local sim · 1 scaled sim · 2 noisy sim · 3 hardware
    max_qubits: int  # min(device size, memory guard)
    native_gates: frozenset[str]
    noise: str | None = None  # None, or the noise model's name
    mid_circuit_measurement: bool = False
    emulated: bool = False  # hardware tier running on a local emulation of the device
    seeded: bool = True  # same seed → same counts
    precision: str = "complex64"
    price: Price = Price()
    typical_queue_seconds: float = 0.0
    description: str = ""
    calibration: Mapping[str, Any] | None = None  # device, date, snapshot reference
    available: bool = True  # False outside availability windows or when credentials fail


@dataclass(frozen=True)
class ExecutionRequest:
    job_id: str  # also the vendor idempotency token
    circuit: Circuit  # parameters bound
    shots: int
    seed: int | None = None
    trace_id: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    memory_bytes: int
    cost_micros: int
    fits: bool = True
    reason: str = ""  # why it does not fit, naming the limit


class RemoteState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PollResult:
    state: RemoteState
    detail: str = ""
    queue_position: int | None = None
    eta_seconds: float | None = None


@dataclass(frozen=True)
class RunResult:
    backend_id: str
    counts: dict[str, int]  # bitstring, measured qubit 0 leftmost → count
    shots: int
    execute_seconds: float
    transpile_seconds: float = 0.0
    billable_seconds: float = 0.0
    seed: int | None = None
    precision: str = ""
    sdk_versions: Mapping[str, str] = field(default_factory=dict)
    calibration: Mapping[str, Any] | None = None
    emulated: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)


class AdapterError(Exception):
    """A backend failure. `transient` ones are retried with backoff; others fail the job at once."""

    transient = False
    code = "backend_error"

    def __init__(self, message: str, *, vendor_message: str = "") -> None:
        super().__init__(message)
        self.vendor_message = vendor_message or message


class TransientBackendError(AdapterError):
    transient = True
    code = "backend_transient"


class PermanentBackendError(AdapterError):
    code = "backend_permanent"


class CapacityError(PermanentBackendError):
    """The circuit does not fit the backend (qubits, memory guard, gates). Raised before allocating."""

    code = "capacity"


class UnknownRemoteJob(PermanentBackendError):
    code = "unknown_remote_job"


class Adapter(abc.ABC):
    """One backend. Instances are long-lived per worker process: build expensive state once."""

    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abc.abstractmethod
    def estimate(self, request: ExecutionRequest) -> Estimate: ...

    @abc.abstractmethod
    def submit(self, request: ExecutionRequest) -> str:
        """Start the run; return the remote id. Must not block on a vendor queue."""

    @abc.abstractmethod
    def poll(self, remote_id: str) -> PollResult: ...

    @abc.abstractmethod
    def result(self, remote_id: str) -> RunResult: ...

    @abc.abstractmethod
    def cancel(self, remote_id: str) -> bool:
        """Cancel a queued or running remote job; True when it will not run to completion."""

    def run(self, request: ExecutionRequest) -> RunResult:
        """Submit and collect in one call, for synchronous (local simulator) backends."""
        remote_id = self.submit(request)
        state = self.poll(remote_id)
        if state.state is not RemoteState.DONE:
            raise TransientBackendError(f"{self.capabilities().backend_id} did not finish synchronously: {state}")
        return self.result(remote_id)
