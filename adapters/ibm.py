"""IBM Quantum hardware (tier 3): the real service with a token, an EMULATED device without one.

Emulated devices run the primitive qiskit-ibm-runtime's local testing mode runs (BackendSamplerV2 on
the fake backend, called directly: the SamplerV2(mode=fake) wrapper deep-copies the whole device per
job, 3–35 s on fake_torino) from the device's calibration snapshot, and behave like the vendor where it matters to the
portal: circuits are transpiled to the coupling map and basis; a job waits in a queue whose length
is drawn from an exponential with mean ``emulated_queue_seconds`` seeded by the job id (reproducible);
it then shows RUNNING for its emulated QPU time (capped by ``emulated_run_seconds_max``) before the
counts appear; vendor statuses (INITIALIZING, QUEUED, RUNNING, DONE, ERROR, CANCELLED) map to
RemoteState; ``availability_windows`` close the device (capabilities.available False; submit refused
as transient); and the price is IBM's pay-as-you-go rate. Everything is labelled emulated.

Billable seconds (documented estimate; IBM bills measured "quantum seconds"):
    billable = max(1 s, shots × (circuit duration + readout duration + rep delay))
where the circuit duration is the critical path of the transpiled circuit through the target's
gate durations, readout is the longest measurement among the used qubits and rep delay is the
device's default (250 µs). Cost = ceil(billable × USD 1.60 per second), in micro-units.

Remote job state lives in one JSON file per remote id under ``<state_dir>/ibm`` so any worker process
can poll, fetch or cancel after a restart. The remote id is derived from the job id, so submitting the
same job id twice returns the same remote id (the job id is the idempotency token). Two workers polling
the same finished-queue job at once may both run the emulation; the seed makes both runs identical and
the atomic write keeps one.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from adapters.base import (
    Adapter,
    Capabilities,
    CapacityError,
    Estimate,
    ExecutionRequest,
    PermanentBackendError,
    PollResult,
    Price,
    PriceKind,
    RemoteState,
    RunResult,
    TransientBackendError,
    UnknownRemoteJob,
)
from adapters.config import BackendConfig
from adapters.convert import qiskit_counts_to_portal, to_qiskit
from adapters.devices import (
    TRANSPILE_SEED,
    active_qubits,
    backend,
    circuit_duration_seconds,
    device_info,
    emulation_backend,
    pass_manager,
    readout_seconds,
    rep_delay_seconds,
    restricted_noise_model,
)
from adapters.errors import sdk_errors
from adapters.ir import GATES, Circuit
from adapters.local import resolve_seed, simulator_seed
from adapters.store import JsonStore
from adapters.versions import sdk_versions

IBM_PRICE = Price(kind=PriceKind.PER_SECOND, per_second_micros=1_600_000, min_seconds=1.0)
MIN_BILLABLE_SECONDS = 1.0
STORE_RETENTION_SECONDS = 30 * 24 * 3600

IBM_STATUS_MAP: dict[str, RemoteState] = {
    "INITIALIZING": RemoteState.QUEUED,
    "QUEUED": RemoteState.QUEUED,
    "VALIDATING": RemoteState.QUEUED,
    "RUNNING": RemoteState.RUNNING,
    "DONE": RemoteState.DONE,
    "ERROR": RemoteState.FAILED,
    "CANCELLED": RemoteState.CANCELLED,
}
_TERMINAL = {"DONE", "ERROR", "CANCELLED"}


def map_ibm_status(status: Any) -> RemoteState:
    """Vendor status (string or JobStatus enum) → RemoteState; unknown statuses count as queued."""
    name = getattr(status, "name", str(status)).upper()
    return IBM_STATUS_MAP.get(name, RemoteState.QUEUED)


def billable_seconds(*, shots: int, circuit_seconds: float, readout_seconds: float, rep_delay_seconds: float) -> float:
    """``max(1 s, shots × (circuit + readout + rep delay))`` — see the module docstring."""
    return max(MIN_BILLABLE_SECONDS, shots * (circuit_seconds + readout_seconds + rep_delay_seconds))


def queue_delay_seconds(job_id: str, mean_seconds: float) -> float:
    """Exponential queue wait, seeded by the job id: the same job always waits the same time."""
    if mean_seconds <= 0:
        return 0.0
    rng = random.Random(int.from_bytes(hashlib.sha256(f"queue:{job_id}".encode()).digest()[:8], "big"))
    return rng.expovariate(1.0 / mean_seconds)


def _parse_window(window: str) -> tuple[dt.time, dt.time]:
    start, _, end = window.strip().partition("-")
    end_time = dt.time(23, 59, 59, 999999) if end.strip() == "24:00" else dt.time.fromisoformat(end.strip())
    return dt.time.fromisoformat(start.strip()), end_time


def is_available(windows: tuple[str, ...], now: dt.datetime | None = None) -> bool:
    """True inside any daily UTC window ``"HH:MM-HH:MM"`` (a window may wrap midnight); no windows = always."""
    if not windows:
        return True
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).time()
    for window in windows:
        start, end = _parse_window(window)
        inside = start <= moment < end if start <= end else (moment >= start or moment < end)
        if inside:
            return True
    return False


class IbmAdapter(Adapter):
    """One IBM device, ``ibm:<fake_device>``: real with a token, emulated from its snapshot without."""

    tier = 3

    def __init__(self, device: str, config: BackendConfig | None = None, *, price: Price | None = None) -> None:
        self.config = config or BackendConfig()
        self.device = device
        self.info = device_info(device)
        self.backend_id = f"ibm:{device}"
        self.price = price or IBM_PRICE
        self.emulated = not self.config.ibm_token
        self.store = JsonStore(Path(self.config.state_dir) / "ibm")
        self._service: Any = None
        self._real_pm: Any = None

    def with_price(self, price: Price) -> Self:
        clone = copy.copy(self)
        clone.price = price
        return clone

    # --- description ---------------------------------------------------------------------------
    def calibration(self) -> dict[str, Any]:
        return {**self.info.calibration(), "emulated": self.emulated}

    def available(self) -> bool:
        return is_available(self.config.availability_windows)

    def capabilities(self) -> Capabilities:
        kind = "emulated from its calibration snapshot" if self.emulated else "real hardware"
        return Capabilities(
            backend_id=self.backend_id,
            tier=self.tier,
            max_qubits=self.info.n_qubits,
            native_gates=frozenset(GATES),  # every IR gate is transpiled to the device basis
            noise=f"{self.device} calibration {self.info.calibration_date}" if self.emulated else "hardware",
            emulated=self.emulated,
            seeded=self.emulated,
            precision="hardware (emulated)" if self.emulated else "hardware",
            price=self.price,
            typical_queue_seconds=self.config.emulated_queue_seconds if self.emulated else 0.0,
            description=f"IBM {self.info.vendor_name} ({self.info.n_qubits} qubits), {kind}",
            calibration=self.calibration(),
            available=self.available(),
        )

    # --- admission, pricing --------------------------------------------------------------------
    def admit(self, circuit: Circuit) -> None:
        if circuit.n_qubits > self.info.n_qubits:
            raise CapacityError(
                f"{circuit.n_qubits} qubits is more than {self.backend_id} has ({self.info.n_qubits} qubits)"
            )
        if not circuit.is_bound:
            raise PermanentBackendError(
                f"{self.backend_id}: unbound parameters {', '.join(sorted(circuit.parameters))}"
            )

    def _transpile(self, circuit: Circuit) -> tuple[Any, float]:
        backend(self.device)
        t0 = time.perf_counter()
        isa = pass_manager(self.device).run(to_qiskit(circuit))
        return isa, time.perf_counter() - t0

    def billable_for(self, isa: Any, shots: int) -> float:
        return billable_seconds(
            shots=shots,
            circuit_seconds=circuit_duration_seconds(self.device, isa),
            readout_seconds=readout_seconds(self.device, active_qubits(isa)),
            rep_delay_seconds=rep_delay_seconds(self.device),
        )

    def estimate(self, request: ExecutionRequest) -> Estimate:
        self.admit(request.circuit)
        with sdk_errors(self.backend_id):
            isa, _ = self._transpile(request.circuit)
            billable = self.billable_for(isa, request.shots)
        # `seconds` is the QPU time — what the price applies to — so a caller computing
        # price.cost_micros(seconds=estimate.seconds) with a DB price override bills correctly. The
        # queue wait is separate: capabilities().typical_queue_seconds, and poll()'s eta_seconds.
        return Estimate(
            seconds=billable,
            memory_bytes=0,
            cost_micros=self.price.cost_micros(shots=request.shots, seconds=billable),
        )

    # --- remote job lifecycle ------------------------------------------------------------------
    def remote_id_for(self, job_id: str) -> str:
        digest = hashlib.sha256(f"{self.backend_id}|{job_id}".encode()).hexdigest()[:32]
        return f"ibmemu-{digest}"

    def submit(self, request: ExecutionRequest) -> str:
        self.admit(request.circuit)
        if not self.available():
            windows = ", ".join(self.config.availability_windows)
            raise TransientBackendError(f"{self.backend_id} is outside its availability windows ({windows} UTC)")
        if not self.emulated:
            return self._real_submit(request)
        remote_id = self.remote_id_for(request.job_id)
        if self.store.get(remote_id) is not None:
            return remote_id  # idempotent: this job id was already submitted
        with sdk_errors(self.backend_id):
            isa, transpile_seconds = self._transpile(request.circuit)
            billable = self.billable_for(isa, request.shots)
        seed = resolve_seed(request)
        record = {
            "remote_id": remote_id,
            "job_id": request.job_id,
            "backend_id": self.backend_id,
            "device": self.device,
            "circuit": request.circuit.to_json(),
            "shots": request.shots,
            "seed": seed,
            "trace_id": request.trace_id,
            "submitted_at": time.time(),
            "queue_seconds": queue_delay_seconds(request.job_id, self.config.emulated_queue_seconds),
            "run_seconds": min(billable, self.config.emulated_run_seconds_max),
            "billable_seconds": billable,
            "transpile_seconds": transpile_seconds,
            "physical_qubits": sorted(active_qubits(isa)),
            "status": "QUEUED",
        }
        self.store.prune(STORE_RETENTION_SECONDS)
        self.store.create(remote_id, record)  # first writer wins if two workers race on the same job id
        return remote_id

    def _load(self, remote_id: str) -> dict[str, Any]:
        try:
            record = self.store.get(remote_id)
        except ValueError:
            record = None
        except OSError as exc:
            # The emulated vendor's records are unreachable (disk, permissions): like a vendor outage,
            # worth polling again; the portal gives up after HARDWARE_POLL_MAX_ERRORS in a row.
            raise TransientBackendError(
                f"{self.backend_id}: the emulated device's job records cannot be read",
                vendor_message=f"{type(exc).__name__}: {exc}",
            ) from exc
        if record is None or record.get("backend_id") != self.backend_id:
            raise UnknownRemoteJob(f"{self.backend_id} has no job {remote_id}")
        return record

    def _vendor_status(self, record: Mapping[str, Any], now: float) -> tuple[str, float]:
        """Status by the clock (for non-terminal records) and the seconds until results are due."""
        if record["status"] in _TERMINAL:
            return record["status"], 0.0
        start = record["submitted_at"] + record["queue_seconds"]
        end = start + record["run_seconds"]
        if now < start:
            return "QUEUED", end - now
        if now < end:
            return "RUNNING", end - now
        return "DONE", 0.0

    def _queue_position(self, record: Mapping[str, Any], now: float) -> int:
        start = record["submitted_at"] + record["queue_seconds"]
        ahead = 0
        for other in self.store.records():
            if other.get("backend_id") != self.backend_id or other.get("status") in _TERMINAL:
                continue
            other_start = other["submitted_at"] + other["queue_seconds"]
            if now < other_start < start:
                ahead += 1
        return ahead + 1

    def poll(self, remote_id: str) -> PollResult:
        if not self.emulated:
            return self._real_poll(remote_id)
        record = self._load(remote_id)
        now = time.time()
        status, eta = self._vendor_status(record, now)
        if status == "QUEUED":
            return PollResult(
                RemoteState.QUEUED,
                detail="QUEUED (emulated)",
                queue_position=self._queue_position(record, now),
                eta_seconds=eta,
            )
        if status == "RUNNING":
            return PollResult(RemoteState.RUNNING, detail="RUNNING (emulated)", eta_seconds=eta)
        if status == "DONE" and record["status"] != "DONE":
            record = self._emulate(record)
            status = record["status"]
        return PollResult(map_ibm_status(status), detail=f"{status} (emulated) {record.get('error', '')}".strip())

    def _emulate(self, record: dict[str, Any]) -> dict[str, Any]:
        """Run the job in runtime local testing mode and store its counts (status DONE or ERROR)."""
        from qiskit.primitives import BackendSamplerV2

        circuit = Circuit.from_json(record["circuit"])
        try:
            with sdk_errors(self.backend_id):
                isa, transpile_seconds = self._transpile(circuit)
                # The primitive runtime local testing mode builds for SamplerV2(mode=<fake backend>),
                # called directly: the runtime's wrapper deep-copies the whole device per job (see
                # devices.emulation_backend). Same noise: the device's model, restricted to used qubits.
                noise_model = restricted_noise_model(self.device, active_qubits(isa))
                sampler = BackendSamplerV2(
                    backend=emulation_backend(self.device),
                    options={
                        "seed_simulator": simulator_seed(record["seed"]),
                        "run_options": {"noise_model": noise_model},
                    },
                )
                t0 = time.perf_counter()
                pub = sampler.run([isa], shots=record["shots"]).result()[0]
                execute_seconds = time.perf_counter() - t0
                counts = qiskit_counts_to_portal(pub.join_data().get_counts(), len(circuit.measured))
        except PermanentBackendError as exc:
            record = {**record, "status": "ERROR", "error": exc.vendor_message}
        else:
            record = {
                **record,
                "status": "DONE",
                "counts": counts,
                "execute_seconds": execute_seconds,
                "transpile_seconds": transpile_seconds,
                "finished_at": time.time(),
            }
        self.store.put(record["remote_id"], record)
        return record

    def result(self, remote_id: str) -> RunResult:
        if not self.emulated:
            return self._real_result(remote_id)
        state = self.poll(remote_id)
        record = self._load(remote_id)
        if state.state is RemoteState.CANCELLED:
            raise PermanentBackendError(f"{self.backend_id} job {remote_id} was cancelled; it has no result")
        if state.state is RemoteState.FAILED:
            raise PermanentBackendError(
                f"{self.backend_id} job {remote_id} failed", vendor_message=record.get("error", "")
            )
        if state.state is not RemoteState.DONE:
            raise TransientBackendError(f"{self.backend_id} job {remote_id} is {state.state.value}; poll again later")
        return RunResult(
            backend_id=self.backend_id,
            counts=dict(record["counts"]),
            shots=record["shots"],
            execute_seconds=record["execute_seconds"],
            transpile_seconds=record["transpile_seconds"],
            billable_seconds=record["billable_seconds"],
            seed=record["seed"],
            precision="hardware (emulated)",
            sdk_versions=sdk_versions(),
            calibration=self.calibration(),
            emulated=True,
            metadata={
                "queue_seconds": record["queue_seconds"],
                "emulated_qpu_seconds": record["billable_seconds"],
                "physical_qubits": record["physical_qubits"],
                "transpile_seed": TRANSPILE_SEED,
                "simulator_seed": simulator_seed(record["seed"]),
                "cost_micros": self.price.cost_micros(shots=record["shots"], seconds=record["billable_seconds"]),
                "vendor_status": "DONE",
                "mode": "runtime local testing primitive (BackendSamplerV2 on the fake backend)",
            },
        )

    def cancel(self, remote_id: str) -> bool:
        """Cancel while queued or running (not billed); False once the job has finished."""
        if not self.emulated:
            return self._real_cancel(remote_id)
        record = self._load(remote_id)
        status, _ = self._vendor_status(record, time.time())
        if status == "CANCELLED":
            return True
        if status in ("DONE", "ERROR"):
            return False
        self.store.put(
            remote_id, {**record, "status": "CANCELLED", "cancelled_at": time.time(), "cancelled_in": status}
        )
        return True

    # --- the real service (needs a token and network: not exercised by the test suite) -----------
    def service(self) -> Any:
        if self._service is None:
            from qiskit_ibm_runtime import QiskitRuntimeService

            with sdk_errors(self.backend_id):
                self._service = QiskitRuntimeService(
                    channel=self.config.ibm_channel,
                    token=self.config.ibm_token,
                    instance=self.config.ibm_instance or None,
                )
        return self._service

    def _real_submit(self, request: ExecutionRequest) -> str:
        from qiskit.transpiler import generate_preset_pass_manager
        from qiskit_ibm_runtime import SamplerV2

        with sdk_errors(self.backend_id):
            service = self.service()
            # The job id travels as a job tag: a retried submit finds the first job instead of paying twice.
            existing = service.jobs(backend_name=self.info.vendor_name, job_tags=[request.job_id], limit=1)
            if existing:
                return existing[0].job_id()
            device = service.backend(self.info.vendor_name)
            if self._real_pm is None:
                self._real_pm = generate_preset_pass_manager(
                    optimization_level=1, backend=device, seed_transpiler=TRANSPILE_SEED
                )
            isa = self._real_pm.run(to_qiskit(request.circuit))
            sampler = SamplerV2(mode=device)
            sampler.options.environment.job_tags = [request.job_id]
            job = sampler.run([isa], shots=request.shots)
            remote_id = job.job_id()
        self.store.put(
            f"real-{remote_id}",
            {
                "remote_id": remote_id,
                "job_id": request.job_id,
                "shots": request.shots,
                "width": len(request.circuit.measured),
            },
        )
        return remote_id

    def _real_poll(self, remote_id: str) -> PollResult:
        with sdk_errors(self.backend_id):
            status = self.service().job(remote_id).status()
        return PollResult(map_ibm_status(status), detail=str(getattr(status, "name", status)))

    def _real_result(self, remote_id: str) -> RunResult:
        meta = self.store.get(f"real-{remote_id}") or {}
        with sdk_errors(self.backend_id):
            job = self.service().job(remote_id)
            pub = job.result()[0]
            raw = pub.join_data().get_counts()
            usage = job.usage() if hasattr(job, "usage") else 0.0
        width = meta.get("width") or max((len(k) for k in raw), default=0)
        return RunResult(
            backend_id=self.backend_id,
            counts=qiskit_counts_to_portal(raw, width),
            shots=int(meta.get("shots") or sum(raw.values())),
            execute_seconds=float(usage or 0.0),
            billable_seconds=float(usage or 0.0),
            precision="hardware",
            sdk_versions=sdk_versions(),
            calibration={**self.info.calibration(), "emulated": False, "device": self.info.vendor_name},
            emulated=False,
            metadata={"vendor_job_id": remote_id},
        )

    def _real_cancel(self, remote_id: str) -> bool:
        with sdk_errors(self.backend_id):
            self.service().job(remote_id).cancel()
        return True
