"""Running a simulator job in a worker: claim it, run it, store its result or its failure.

A job is claimed with a conditional UPDATE (queued → running, attempts + 1) and finished under a row
lock only while it is still running *this* attempt: a duplicate delivery, a cancel, or the reaper
that got there first turns the rest into a no-op. The hardware path (`jobs.hardware`) reuses the
claim, the outcomes and the retry rules.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf

from adapters.base import AdapterError, ExecutionRequest, RunResult
from adapters.ir import Circuit
from adapters.registry import get_adapter
from budgets.models import HARDWARE_TIER
from budgets.services import hold_release, hold_settle
from jobs.approvals import TIER_NOT_ALLOWED, tier_cap_refusal
from jobs.families import get_family
from jobs.heartbeat import worker_label
from jobs.lifecycle import transition
from jobs.metrics import hellinger_fidelity
from jobs.models import Job, JobStatus, Stage
from jobs.policy.prices import price_overrides
from jobs.queueing import enqueue_job

logger = logging.getLogger(__name__)

WORKER = "worker"
REAPER = "reaper"


def max_attempts() -> int:
    """How many times a job may be started (worker deaths and transient errors both count)."""
    return int(getattr(settings, "JOB_MAX_ATTEMPTS", 3))


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter after failed attempt number `attempt` (1-based)."""
    base = float(getattr(settings, "JOB_RETRY_BACKOFF_SECONDS", 2.0))
    cap = float(getattr(settings, "JOB_RETRY_BACKOFF_MAX_SECONDS", 300.0))
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)


def run_deadline(now: datetime) -> datetime:
    """When a running job is presumed dead: after this cluster's task timeout, plus a margin.

    django-q2 kills a task at `timeout`, so past the deadline no worker is still running this attempt;
    reaping earlier could run the adapter twice at once.
    """
    margin = float(getattr(settings, "JOB_DEADLINE_MARGIN_SECONDS", 30.0))
    return now + timedelta(seconds=float(Conf.TIMEOUT or 600) + margin)


# --- claiming and owning a job --------------------------------------------------------------------
def job_claim(job: Job, *, now: datetime, deadline: datetime | None) -> int | None:
    """queued → running for this worker; returns the attempt number it owns, None if another won.

    One transaction: the conditional UPDATE (on the status and the attempt count this worker read, so
    a second delivery or a racing worker changes nothing) plus the lifecycle and queue-wait events."""
    attempt = job.attempts + 1
    fields: dict[str, Any] = {
        "started_at": now,
        "deadline": deadline,
        "attempts": attempt,
        "not_before": None,
        "worker": worker_label(),
        "heartbeat_at": now,
    }
    if job.seed is None:
        # A seed chosen now and stored makes the run reproducible months later.
        fields["seed"] = random.randrange(2**31)
    # Queue wait: since it was queued, or since its retry backoff ended.
    waited_from = max(t for t in (job.queued_at, job.not_before, job.created_at) if t is not None)
    claimed = transition(
        job.pk,
        from_statuses=[JobStatus.QUEUED],
        to_status=JobStatus.RUNNING,
        actor_label=WORKER,
        reason=f"claimed by {_cluster_worker_label()}",
        expect={"attempts": job.attempts},
        stages=[(Stage.QUEUE_WAIT, waited_from, now, {})] if waited_from < now else [],
        instance=job,
        **fields,
    )
    return attempt if claimed else None


def tier_cap_refuse(job: Job, now: datetime) -> str:
    """A queued job whose budget's tier cap was lowered after it was approved or queued: failed with the
    reason, its hold released. Returns the task's outcome word; "" when the job may run."""
    refusal = tier_cap_refusal(job)
    if not refusal:
        return ""
    with transaction.atomic():
        if transition(
            job.pk,
            from_statuses=[JobStatus.QUEUED],
            to_status=JobStatus.FAILED,
            actor_label=WORKER,
            reason=refusal,
            error_code=TIER_NOT_ALLOWED,
            error_message=refusal,
            finished_at=now,
            not_before=None,
        ):
            hold_release(job=job, reason=f"failed: {TIER_NOT_ALLOWED}")
    return "failed (tier not allowed)"


def log_ids(job: Job) -> dict[str, str]:
    """`extra=` for log lines: the JSON formatter writes them, so one grep follows a job."""
    return {"job_id": str(job.pk), "trace_id": job.trace_id}


def _cluster_worker_label() -> str:
    return f"{Conf.CLUSTER_NAME}/{os.getpid()}"


def execution_request(job: Job) -> ExecutionRequest:
    return ExecutionRequest(
        job_id=str(job.pk),
        circuit=_circuit_of(job),
        shots=job.shots,
        seed=job.seed,
        trace_id=job.trace_id,
    )


def _circuit_of(job: Job) -> Circuit:
    """The job's circuit, looked up by its JSON text: a sweep's jobs share a circuit, and rebuilding and
    validating a wide one on every job would cost more than the lookup."""
    return _circuit_from_text(json.dumps(job.circuit, sort_keys=True))


@functools.lru_cache(maxsize=32)
def _circuit_from_text(text: str) -> Circuit:
    return Circuit.from_json(json.loads(text))  # immutable: shared by every job that has it


def run_cost_micros(adapter: Any, job: Job, result: RunResult) -> int:
    """What the run cost at the backend's price (the admin's override when set), by billable time."""
    price = price_overrides().get(job.backend) or adapter.capabilities().price
    return price.cost_micros(shots=job.shots, seconds=result.billable_seconds)


def job_for_run(job_id: str) -> Job | None:
    """The job a run or poll task finishes, with its hold in the same query (settling it needs it)."""
    return Job.objects.select_related("hold").filter(pk=job_id).first()


# --- outcomes ---------------------------------------------------------------------------------------
def _fidelity_metrics(job: Job, counts: Mapping[str, int]) -> dict[str, Any]:
    """Fidelity against the family's exact ideal where the family has one; {} otherwise."""
    try:
        family = get_family(job.family, job.family_version)
        if family.ideal is None:
            return {}
        ideal = family.ideal(family.parse(job.params))
    except Exception:  # a family without an ideal, or one that cannot rebuild it, is no failure
        logger.debug("no ideal distribution for job %s", job.pk, exc_info=True)
        return {}
    if not ideal:
        return {}
    return {"hellinger_fidelity": hellinger_fidelity(counts, ideal)}


def _counts_check(job: Job, counts: Mapping[str, int], circuit: Circuit | None = None) -> None:
    width = len((circuit or Circuit.from_json(job.circuit)).measured)
    if sum(counts.values()) != job.shots:
        raise AdapterError(f"the backend returned {sum(counts.values())} shots, not {job.shots}")
    bad = [b for b in counts if len(b) != width or set(b) - {"0", "1"}]
    if bad:
        raise AdapterError(f"the backend returned malformed bitstrings, e.g. {bad[0]!r} for {width} bits")


def result_store(
    job: Job,
    attempt: int,
    result: RunResult,
    *,
    cost_micros: int,
    started: datetime,
    extra_meta: Mapping[str, Any] | None = None,
    circuit: Circuit | None = None,
    waits: Sequence[tuple[Any, ...]] = (),
) -> bool:
    """running → succeeded with the result, the stage timeline and the settled cost, atomically.

    Returns False (and stores nothing) when this attempt no longer owns the job; a job cancelled
    meanwhile gets its hold released instead.
    """
    parse_start = timezone.now()
    _counts_check(job, result.counts, circuit)  # the circuit the worker ran, when it has it
    counts = dict(sorted(result.counts.items()))
    post_start = timezone.now()
    metrics = _fidelity_metrics(job, counts)
    done = timezone.now()
    meta = {
        "execute_seconds": result.execute_seconds,
        "transpile_seconds": result.transpile_seconds,
        "billable_seconds": result.billable_seconds,
        "precision": result.precision,
        "sdk_versions": dict(result.sdk_versions),
        "seed": result.seed if result.seed is not None else job.seed,
        "emulated": result.emulated,
        "backend": result.backend_id,
        "attempt": attempt,
        "cluster": Conf.CLUSTER_NAME,
        **({"adapter": dict(result.metadata)} if result.metadata else {}),
        **(extra_meta or {}),
    }
    transpile_end = started + timedelta(seconds=result.transpile_seconds)
    execute_end = transpile_end + timedelta(seconds=result.execute_seconds)
    execute_data = {"backend": result.backend_id, "shots": result.shots, "attempt": attempt}
    # The UPDATE's WHERE (running, and still this attempt) takes the row lock and re-checks it after
    # any wait, so a cancel or the reaper that got there first makes this a no-op.
    with transaction.atomic():
        stored = transition(
            job.pk,
            from_statuses=[JobStatus.RUNNING],
            to_status=JobStatus.SUCCEEDED,
            expect={"attempts": attempt},
            actor_label=WORKER,
            reason=f"{result.backend_id}: {sum(counts.values())} shots",
            stages=[
                *waits,
                (Stage.TRANSPILE, started, transpile_end, {}),
                (Stage.EXECUTE, transpile_end, execute_end, execute_data),
                (Stage.PARSE, parse_start, post_start, {}),
                (Stage.POSTPROCESS, post_start, done, {}),
            ],
            counts=counts,
            result_meta=meta,
            metrics=metrics,
            cost_micros=cost_micros,
            sdk_versions=dict(result.sdk_versions) or job.sdk_versions,
            calibration=dict(result.calibration or {}) or job.calibration,
            emulated=result.emulated,
            seed=result.seed if result.seed is not None else job.seed,
            finished_at=done,
            deadline=None,
            not_before=None,
            error_code="",
            error_message="",
            instance=job,  # gets the result; its trace id labels the stage spans
        )
        if not stored:
            if Job.objects.filter(pk=job.pk).values_list("status", flat=True).first() == JobStatus.CANCELLED:
                hold_release(job=job, reason="cancelled while running")
            return False
        hold_settle(job=job, actual_micros=cost_micros)  # idempotent; it also handles a hold changed since it was read
    return True


def job_fail(job: Job, attempt: int | None, *, code: str, message: str, actor_label: str = WORKER) -> bool:
    """running → failed with the vendor's message, hold released; False if this attempt lost the job."""
    with transaction.atomic():
        failed = transition(
            job.pk,
            from_statuses=[JobStatus.RUNNING],
            to_status=JobStatus.FAILED,
            # The UPDATE's WHERE is the ownership check (see result_store); the reaper passes None.
            expect={"attempts": attempt} if attempt is not None else None,
            actor_label=actor_label,
            reason=message[:2000],
            error_code=code,
            error_message=message,
            finished_at=timezone.now(),
            deadline=None,
            not_before=None,
        )
        if failed:
            hold_release(job=job, reason=f"failed: {code}")
    return failed


def _job_requeue(job: Job, attempt: int, *, reason: str, delay: float, code: str = "", message: str = "") -> bool:
    """running → queued, to be started again after `delay` seconds (enqueued on commit)."""
    not_before = timezone.now() + timedelta(seconds=delay)
    with transaction.atomic():
        moved = transition(
            job.pk,
            from_statuses=[JobStatus.RUNNING],
            to_status=JobStatus.QUEUED,
            expect={"attempts": attempt},
            actor_label=WORKER,
            reason=reason,
            data={"attempt": attempt, "retry_in_seconds": round(delay, 3)},
            not_before=not_before,
            deadline=None,
            error_code=code,
            error_message=message,
        )
        if moved:
            enqueue_job(job.pk, run_at=not_before, job=job)
    return moved


def adapter_error_handle(job: Job, attempt: int, exc: AdapterError) -> str:
    """Transient: back to the queue with backoff, until the attempt limit. Permanent: failed now."""
    message = exc.vendor_message or str(exc)
    if exc.transient and attempt < max_attempts():
        delay = backoff_seconds(attempt)
        _job_requeue(
            job,
            attempt,
            reason=f"transient backend error (attempt {attempt} of {max_attempts()}), retry in {delay:.1f} s: "
            f"{message}",
            delay=delay,
            code=exc.code,
            message=message,
        )
        return "retrying"
    if exc.transient:
        message = f"{message} (gave up after {attempt} attempts)"
    job_fail(job, attempt, code=exc.code, message=message)
    return "failed"


# --- simulator tiers ------------------------------------------------------------------------------
def simulator_job_run(job_id: str) -> str:
    """Execute a queued simulator job (tiers 0–2) on its backend and store the outcome.

    Returns a short word for django-q2's result record. A duplicate delivery, a paused or cancelled
    job, or one whose retry backoff has not passed, is left alone.
    """
    now = timezone.now()
    job = job_for_run(job_id)
    if job is None:
        return "missing"
    if job.status != JobStatus.QUEUED:
        return f"skipped ({job.status})"
    if job.not_before is not None and job.not_before > now:
        return "deferred"
    if (job.tier or 0) >= HARDWARE_TIER:
        # Rerouted to hardware after it was queued here: the hardware cluster submits it.
        enqueue_job(job.pk)
        return "rerouted to hardware"
    if refused := tier_cap_refuse(job, now):
        return refused
    attempt = job_claim(job, now=now, deadline=run_deadline(now))
    if attempt is None:
        return "skipped (claimed elsewhere)"
    try:
        adapter = get_adapter(job.backend)
        request = execution_request(job)
        started = timezone.now()
        result = adapter.run(request)
        cost = run_cost_micros(adapter, job, result)
        stored = result_store(job, attempt, result, cost_micros=cost, started=started, circuit=request.circuit)
    except AdapterError as exc:
        return adapter_error_handle(job, attempt, exc)
    except Exception as exc:
        # A bug or a malformed stored circuit: retrying would fail the same way.
        logger.exception("job %s failed in the worker", job.pk, extra=log_ids(job))
        job_fail(job, attempt, code="worker_error", message=f"{type(exc).__name__}: {exc}")
        return "failed"
    logger.info(
        "job %s %s on %s in %.3f s",
        job.pk,
        "succeeded" if stored else "discarded its result",
        job.backend,
        (timezone.now() - now).total_seconds(),
        extra=log_ids(job),
    )
    return "succeeded" if stored else "discarded (job changed while running)"
