"""Worker tasks (django-q2): run simulator jobs, submit and poll hardware jobs, reap dead workers.

Every task takes one job id (a string) and reads everything else from the database: payloads are
pickled and signed with SECRET_KEY, and a row is the source of truth, not a task argument.

Delivery is at-least-once (ORM broker): a task can arrive twice (a worker killed after it finished
but before the ack, `retry` elapsing on a long queue wait), or never finish (kill -9, OOM, timeout).
So each task is safe to run twice:

- `run_job` claims the job with a conditional UPDATE (queued → running, attempts + 1); a duplicate
  finds it running or terminal and does nothing.
- It finishes under a row lock, and only if the job is still running *this* attempt: a job that was
  cancelled meanwhile, or reaped and claimed again by another worker, keeps nothing from this run.
- A worker that dies stops its job's heartbeat (`jobs.heartbeat`: its cluster refreshes it while the
  worker process lives); every cluster's reaper (`jobs.reaper`) puts a job whose heartbeat is stale
  back in the queue, or fails it after JOB_MAX_ATTEMPTS. Its `deadline` (the cluster's `timeout` plus
  a margin — django-q2 kills a task at `timeout`) remains the backstop for a job without heartbeats.
- Hardware (tier 3) never blocks a worker on a vendor queue: `submit_hardware_job` stores the remote
  id before anything else can fail, and `poll_hardware_job` polls by remote id, so a restarted worker
  resumes where the dead one stopped and never submits twice (the job id is also the vendor's
  idempotency token). Polling ends: after HARDWARE_POLL_MAX_ERRORS transient poll errors in a row, or
  HARDWARE_MAX_WAIT_SECONDS after submission, the job fails and the remote job is cancelled.

Routing (`enqueue_job`): tier 3 → cluster ``hardware``; priority batch → ``batch``; everything else →
``interactive``. Delays (retry backoff, the next poll) are ORM-broker rows locked until the due time,
which no cluster pulls earlier; the reaper re-enqueues anything whose task went missing.
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
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from adapters.base import AdapterError, ExecutionRequest, PollResult, RemoteState, RunResult
from adapters.ir import Circuit
from budgets.services import hold_release, hold_settle
from budgets.tasks import SWEEP_MINUTES
from jobs.approvals import TIER_NOT_ALLOWED, tier_cap_refusal
from jobs.broker import NotifyORM, insert_task, insert_tasks
from jobs.heartbeat import worker_label
from jobs.lifecycle import transition
from jobs.metrics import hellinger_fidelity
from jobs.models import Job, JobStatus, Priority, Stage
from jobs.vendor_queue import RUNNING_SEEN, note_running, run_start, vendor_queue_span

logger = logging.getLogger(__name__)

INTERACTIVE, BATCH, HARDWARE = "interactive", "batch", "hardware"
HARDWARE_TIER = 3
RUN_JOB = "jobs.tasks.run_job"
SUBMIT_HARDWARE_JOB = "jobs.tasks.submit_hardware_job"
POLL_HARDWARE_JOB = "jobs.tasks.poll_hardware_job"
JOB_TASKS = frozenset({RUN_JOB, SUBMIT_HARDWARE_JOB, POLL_HARDWARE_JOB})
WORKER = "worker"
REAPER = "reaper"
# result_meta keys counting a hardware job's consecutive transient poll errors; a good poll drops them.
_POLL_ERROR_KEYS = ("poll_errors", "last_poll_error")


# --- settings -------------------------------------------------------------------------------------
def max_attempts() -> int:
    """How many times a job may be started (worker deaths and transient errors both count)."""
    return int(getattr(settings, "JOB_MAX_ATTEMPTS", 3))


def _backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter after failed attempt number `attempt` (1-based)."""
    base = float(getattr(settings, "JOB_RETRY_BACKOFF_SECONDS", 2.0))
    cap = float(getattr(settings, "JOB_RETRY_BACKOFF_MAX_SECONDS", 300.0))
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)


def _poll_seconds() -> float:
    return float(getattr(settings, "HARDWARE_POLL_SECONDS", 2.0))


def _poll_max_errors() -> int:
    """Transient poll errors in a row after which a hardware job fails (a success resets the count)."""
    return int(getattr(settings, "HARDWARE_POLL_MAX_ERRORS", 20))


def _max_wait_seconds() -> float:
    """How long a remote job may stay queued or running at the vendor, from its submission."""
    return float(getattr(settings, "HARDWARE_MAX_WAIT_SECONDS", 7 * 24 * 3600.0))


def _lost_after() -> timedelta:
    """A queued job with no pending task this long after its last change lost its enqueue."""
    return timedelta(seconds=float(getattr(settings, "JOB_LOST_ENQUEUE_SECONDS", 60.0)))


def _deadline(now: datetime) -> datetime:
    """When a running job is presumed dead: after this cluster's task timeout, plus a margin.

    django-q2 kills a task at `timeout`, so past the deadline no worker is still running this attempt;
    reaping earlier could run the adapter twice at once.
    """
    margin = float(getattr(settings, "JOB_DEADLINE_MARGIN_SECONDS", 30.0))
    return now + timedelta(seconds=float(Conf.TIMEOUT or 600) + margin)


# --- enqueueing -----------------------------------------------------------------------------------
def cluster_for(job: Job) -> str:
    """The worker cluster that runs `job`: hardware by tier, then batch or interactive by priority."""
    if (job.tier or 0) >= HARDWARE_TIER:
        return HARDWARE
    if job.priority == Priority.BATCH:
        return BATCH
    return INTERACTIVE


class _EnqueueBroker(NotifyORM):
    """The portal's broker as a web process or a task uses it to enqueue, optionally delayed.

    `run_at`: the row is written locked until then, and no cluster pulls it earlier. `lock` is the ORM
    broker's own "do not pull until" column (a cluster sets it to now + retry when it pulls a row), so
    the delay has the broker's durability: it survives restarts. A task due now also wakes the
    cluster's pusher (NOTIFY, delivered at commit); a delayed one is found by the pusher's poll.

    django-q2's ORM broker closes the process's database connection before every use outside a
    transaction — meant for the cluster's long-lived pusher; here Django's request/task cycle manages
    the connection.
    """

    def __init__(self, list_key: str, run_at: datetime | None = None) -> None:
        self.run_at = run_at
        super().__init__(list_key=list_key)

    @staticmethod
    def get_connection(list_key: str | None = None) -> Any:
        return OrmQ.objects.using(Conf.ORM)

    def enqueue(self, task: str) -> int:
        now = timezone.now()
        due = self.run_at is None or self.run_at <= now
        return insert_task(self.list_key, task, lock=self.run_at or now, wake=due)


class _BatchBroker(_EnqueueBroker):
    """Keeps the signed payloads `async_task` builds instead of writing them, so many tasks of one
    cluster go to the ORM broker in one INSERT (`enqueue_jobs`)."""

    def __init__(self, list_key: str) -> None:
        self.payloads: list[str] = []
        super().__init__(list_key)

    def enqueue(self, task: str) -> str:
        self.payloads.append(task)
        return f"(row {len(self.payloads)} of a batch)"


def _enqueue(
    func: str, job_id: str, *, cluster: str, run_at: datetime | None = None, broker: _EnqueueBroker | None = None
) -> str | None:
    """Queue `func(job_id)` on `cluster`, not to run before `run_at` (through `broker`, when given)."""
    options: dict[str, Any] = {"cluster": cluster, "task_name": f"{func.rsplit('.', 1)[-1]}:{job_id}"}
    if func == RUN_JOB:
        # Its outcome is the job's; a stored django-q2 success would only duplicate it (failures of the
        # task itself, e.g. an import error, are still stored).
        options["save"] = False
    if Conf.ORM:
        options["broker"] = broker or _EnqueueBroker(cluster, run_at)
    elif run_at is not None and run_at > timezone.now():
        # Another broker has no delay: a one-off schedule (django-q2's scheduler wakes every 30 s).
        from django_q.models import Schedule

        Schedule.objects.create(
            func=func,
            args=repr((job_id,)),
            schedule_type=Schedule.ONCE,
            next_run=run_at,
            repeats=-1,
            cluster=cluster,
            name=f"{options['task_name']}@{run_at.isoformat()}",
        )
        return None
    return async_task(func, job_id, **options)


def _job_task(job: Job) -> tuple[str, str]:
    """The task that executes a queued job, and its cluster."""
    cluster = cluster_for(job)
    return (SUBMIT_HARDWARE_JOB if cluster == HARDWARE else RUN_JOB), cluster


def enqueue_job(job_id: object, *, run_at: datetime | None = None, job: Job | None = None) -> str | None:
    """Queue the execution task of a queued job on its cluster; returns the django-q2 task id.

    Call it in the transaction that makes the job queued. The ORM broker writes the task row in that
    transaction, so clusters see the task exactly when the queued job commits and a rollback takes
    both back (another broker is called after the commit). Safe to call more than once for the same
    job: the task claims the job, and a duplicate does nothing. `job`: the row, when already loaded.
    """
    if job is None:
        job = Job.objects.only("id", "tier", "priority").get(pk=job_id)
    func, cluster = _job_task(job)
    if not tasks_in_jobs_database() and not transaction.get_autocommit():
        transaction.on_commit(lambda: _enqueue(func, str(job.pk), cluster=cluster, run_at=run_at))
        return None
    return _enqueue(func, str(job.pk), cluster=cluster, run_at=run_at)


def enqueue_jobs(jobs: Sequence[Job]) -> None:
    """`enqueue_job` for jobs that have just become queued together (a submission): the same task
    payloads, written in one INSERT per cluster (with one NOTIFY each on PostgreSQL) instead of one
    per job. Call it in the transaction that makes the jobs queued: the task rows commit and roll back
    with them. A broker other than the ORM one on this database is called after the commit."""
    if not tasks_in_jobs_database():
        for job in jobs:
            enqueue_job(job.pk, job=job)
        return
    brokers: dict[str, _BatchBroker] = {}
    for job in jobs:
        func, cluster = _job_task(job)
        broker = brokers.setdefault(cluster, _BatchBroker(cluster))
        _enqueue(func, str(job.pk), cluster=cluster, broker=broker)
    now = timezone.now()
    for cluster, broker in brokers.items():
        insert_tasks(cluster, broker.payloads, lock=now, wake=True)
        # DEBUG: every submission logs its jobs ("job submitted") and django-q2 each task; this line
        # would be a third on every job's path.
        logger.debug("enqueued %d tasks on %s", len(broker.payloads), cluster)


def tasks_in_jobs_database() -> bool:
    """Whether the ORM broker's task rows live in the jobs' database: a job's task can then be written
    in the job's transaction."""
    return Conf.ORM == DEFAULT_DB_ALIAS


def _enqueue_poll(job_id: str, run_at: datetime) -> None:
    _enqueue(POLL_HARDWARE_JOB, job_id, cluster=HARDWARE, run_at=run_at)


def _waiting_task_job_ids() -> set[str] | None:
    """Job ids with a run/submit/poll task waiting in the ORM broker for any live cluster to pull.

    Only rows no cluster has pulled count (`lock` in the past; the reaper asks only about jobs whose
    backoff has passed, so their delayed rows are due too). A row a cluster has pulled stays locked
    for `retry` even when that cluster died with it in memory, so such a job is enqueued again — at
    worst a duplicate, which its claim turns into a no-op. None when the broker is not the ORM (then
    nothing is known about pending tasks).
    """
    if not Conf.ORM:
        return None
    now = timezone.now()
    ids: set[str] = set()
    waiting = OrmQ.objects.using(Conf.ORM).filter(Q(lock__isnull=True) | Q(lock__lte=now))
    for row in waiting.only("payload").iterator():
        task = row.task
        if task.get("func") in JOB_TASKS and task.get("args"):
            ids.add(str(task["args"][0]))
    return ids


# --- money (budgets.services; idempotent) ---------------------------------------------------------
def _settle(job: Job, actual_micros: int) -> None:
    hold_settle(job=job, actual_micros=actual_micros)


def _release(job: Job, reason: str) -> None:
    hold_release(job=job, reason=reason)


# --- claiming and owning a job --------------------------------------------------------------------
def _claim(job: Job, *, now: datetime, deadline: datetime | None) -> int | None:
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
        reason=f"claimed by {_worker_label()}",
        expect={"attempts": job.attempts},
        stages=[(Stage.QUEUE_WAIT, waited_from, now, {})] if waited_from < now else [],
        instance=job,
        **fields,
    )
    return attempt if claimed else None


def _refused_by_budget(job: Job, now: datetime) -> str:
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
            _release(job, f"failed: {TIER_NOT_ALLOWED}")
    return "failed (tier not allowed)"


def _log_ids(job: Job) -> dict[str, str]:
    """`extra=` for log lines: the JSON formatter writes them, so one grep follows a job."""
    return {"job_id": str(job.pk), "trace_id": job.trace_id}


def _worker_label() -> str:
    return f"{Conf.CLUSTER_NAME}/{os.getpid()}"


def _request(job: Job) -> ExecutionRequest:
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


def _adapter(backend_id: str) -> Any:
    from adapters.registry import get_adapter

    return get_adapter(backend_id)


def _cost_micros(adapter: Any, job: Job, result: RunResult) -> int:
    """What the run cost at the backend's price (the admin's override when set), by billable time."""
    from jobs.policy import price_overrides

    price = price_overrides().get(job.backend) or adapter.capabilities().price
    return price.cost_micros(shots=job.shots, seconds=result.billable_seconds)


def _job_for_run(job_id: str) -> Job | None:
    """The job a run or poll task finishes, with its hold in the same query (settling it needs it)."""
    return Job.objects.select_related("hold").filter(pk=job_id).first()


# --- outcomes ---------------------------------------------------------------------------------------
def _metrics(job: Job, counts: Mapping[str, int]) -> dict[str, Any]:
    """Fidelity against the family's exact ideal where the family has one; {} otherwise."""
    try:
        from jobs.families import get_family

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


def _check_counts(job: Job, counts: Mapping[str, int], circuit: Circuit | None = None) -> None:
    width = len((circuit or Circuit.from_json(job.circuit)).measured)
    if sum(counts.values()) != job.shots:
        raise AdapterError(f"the backend returned {sum(counts.values())} shots, not {job.shots}")
    bad = [b for b in counts if len(b) != width or set(b) - {"0", "1"}]
    if bad:
        raise AdapterError(f"the backend returned malformed bitstrings, e.g. {bad[0]!r} for {width} bits")


def _store_result(
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
    _check_counts(job, result.counts, circuit)  # the circuit the worker ran, when it has it
    counts = dict(sorted(result.counts.items()))
    post_start = timezone.now()
    metrics = _metrics(job, counts)
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
                _release(job, "cancelled while running")
            return False
        _settle(job, cost_micros)  # idempotent; it also handles a hold changed since it was read
    return True


def _fail(job: Job, attempt: int | None, *, code: str, message: str, actor_label: str = WORKER) -> bool:
    """running → failed with the vendor's message, hold released; False if this attempt lost the job."""
    with transaction.atomic():
        failed = transition(
            job.pk,
            from_statuses=[JobStatus.RUNNING],
            to_status=JobStatus.FAILED,
            # The UPDATE's WHERE is the ownership check (see _store_result); the reaper passes None.
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
            _release(job, f"failed: {code}")
    return failed


def _requeue(job: Job, attempt: int, *, reason: str, delay: float, code: str = "", message: str = "") -> bool:
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


def _on_adapter_error(job: Job, attempt: int, exc: AdapterError) -> str:
    """Transient: back to the queue with backoff, until the attempt limit. Permanent: failed now."""
    message = exc.vendor_message or str(exc)
    if exc.transient and attempt < max_attempts():
        delay = _backoff_seconds(attempt)
        _requeue(
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
    _fail(job, attempt, code=exc.code, message=message)
    return "failed"


# --- simulator tiers ------------------------------------------------------------------------------
def run_job(job_id: str) -> str:
    """Execute a queued simulator job (tiers 0–2) on its backend and store the outcome.

    Returns a short word for django-q2's result record. A duplicate delivery, a paused or cancelled
    job, or one whose retry backoff has not passed, is left alone.
    """
    now = timezone.now()
    job = _job_for_run(job_id)
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
    if refused := _refused_by_budget(job, now):
        return refused
    attempt = _claim(job, now=now, deadline=_deadline(now))
    if attempt is None:
        return "skipped (claimed elsewhere)"
    try:
        adapter = _adapter(job.backend)
        request = _request(job)
        started = timezone.now()
        result = adapter.run(request)
        cost = _cost_micros(adapter, job, result)
        stored = _store_result(job, attempt, result, cost_micros=cost, started=started, circuit=request.circuit)
    except AdapterError as exc:
        return _on_adapter_error(job, attempt, exc)
    except Exception as exc:
        # A bug or a malformed stored circuit: retrying would fail the same way.
        logger.exception("job %s failed in the worker", job.pk, extra=_log_ids(job))
        _fail(job, attempt, code="worker_error", message=f"{type(exc).__name__}: {exc}")
        return "failed"
    logger.info(
        "job %s %s on %s in %.3f s",
        job.pk,
        "succeeded" if stored else "discarded its result",
        job.backend,
        (timezone.now() - now).total_seconds(),
        extra=_log_ids(job),
    )
    return "succeeded" if stored else "discarded (job changed while running)"


# --- hardware (tier 3) ----------------------------------------------------------------------------
def submit_hardware_job(job_id: str) -> str:
    """Claim a queued hardware job and submit it to the vendor without waiting for its queue.

    The remote id is stored before anything else can fail. A job that already has a remote id (the
    worker died after submitting, or the task came twice) is never submitted again: it is polled.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    now = timezone.now()
    if job.status == JobStatus.QUEUED and (job.tier or 0) < HARDWARE_TIER:
        # Rerouted to a simulator after it was queued here: its cluster runs it.
        enqueue_job(job.pk)
        return "rerouted to a simulator"
    if job.status == JobStatus.RUNNING and job.remote_id:
        _enqueue_poll(str(job.pk), now)
        return "already submitted; polling"
    if job.status != JobStatus.QUEUED:
        return f"skipped ({job.status})"
    if job.not_before is not None and job.not_before > now:
        return "deferred"
    if not job.remote_id and (refused := _refused_by_budget(job, now)):  # not yet at the vendor
        return refused
    attempt = _claim(job, now=now, deadline=None if job.remote_id else _deadline(now))
    if attempt is None:
        return "skipped (claimed elsewhere)"
    if not job.remote_id:
        try:
            remote_id = _adapter(job.backend).submit(_request(job))
        except AdapterError as exc:
            return _on_adapter_error(job, attempt, exc)
        except Exception as exc:
            logger.exception("job %s could not be submitted", job.pk, extra=_log_ids(job))
            _fail(job, attempt, code="worker_error", message=f"{type(exc).__name__}: {exc}")
            return "failed"
        submitted_at = timezone.now()
        stored = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=attempt).update(
            remote_id=remote_id,
            deadline=None,
            not_before=submitted_at,
            result_meta={"remote_id": remote_id, "submitted_at": submitted_at.isoformat()},
            updated_at=submitted_at,
        )
        if not stored:
            # Cancelled (or reaped) while submitting: the vendor must not run it.
            _cancel_remote(job.backend, remote_id)
            return "discarded (job changed while submitting)"
    _enqueue_poll(str(job.pk), timezone.now() + timedelta(seconds=_poll_seconds()))
    return "submitted"


def _cancel_remote(backend_id: str, remote_id: str) -> None:
    try:
        _adapter(backend_id).cancel(remote_id)
    except Exception:
        logger.warning("could not cancel remote job %s on %s", remote_id, backend_id, exc_info=True)


def _claim_poll(job_id: object, now: datetime) -> bool:
    """Take the next poll slot of a running remote job (its `not_before` is the next poll due).

    Two pollers of one job (a duplicate delivery, the sweeper reviving a chain that was only late)
    race on this conditional UPDATE; the loser stops, so each job has one live poll chain.
    """
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.RUNNING)
        .exclude(remote_id="")
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .update(not_before=now + timedelta(seconds=_poll_seconds()))
    )


def poll_hardware_job(job_id: str) -> str:
    """Poll one submitted hardware job by its remote id; store the result when the vendor is done."""
    now = timezone.now()
    if not _claim_poll(job_id, now):
        return "skipped (not due, or not running)"
    job = _job_for_run(job_id)
    if job is None:  # deleted since its poll slot was claimed
        return "missing"
    adapter = _adapter(job.backend)
    try:
        state: PollResult = adapter.poll(job.remote_id)
    except AdapterError as exc:
        if exc.transient:
            return _on_poll_error(job, exc, now)
        _fail(job, job.attempts, code=exc.code, message=exc.vendor_message or str(exc))
        return "failed"
    if state.state is RemoteState.DONE:
        try:
            result = adapter.result(job.remote_id)
            cost = _cost_micros(adapter, job, result)
            # Keep when it was submitted and the last queue report next to the result.
            meta = {"remote_id": job.remote_id}
            meta |= {k: job.result_meta[k] for k in ("submitted_at", "vendor", RUNNING_SEEN) if k in job.result_meta}
            ran = timedelta(seconds=result.transpile_seconds + result.execute_seconds)
            started = run_start(job.result_meta, now - ran)
            submitted = _submitted_at(job)
            meta["vendor_queue_seconds"] = max(0.0, (started - submitted).total_seconds())
            stored = _store_result(
                job,
                job.attempts,
                result,
                cost_micros=cost,
                started=started,
                extra_meta=meta,
                waits=vendor_queue_span(submitted, started, job.backend),
            )
        except AdapterError as exc:
            return _on_adapter_error(job, job.attempts, exc)
        return "succeeded" if stored else "discarded (job changed while running)"
    if state.state is RemoteState.FAILED:
        _fail(job, job.attempts, code="backend_failed", message=state.detail or "the vendor reports the job failed")
        return "failed"
    if state.state is RemoteState.CANCELLED:
        with transaction.atomic():
            if transition(
                job.pk,
                from_statuses=[JobStatus.RUNNING],
                to_status=JobStatus.CANCELLED,
                expect={"attempts": job.attempts},
                actor_label=WORKER,
                reason=state.detail or "cancelled by the vendor",
                finished_at=timezone.now(),
                deadline=None,
                not_before=None,
            ):
                _release(job, "cancelled by the vendor")
        return "cancelled"
    # Still queued or running at the vendor.
    waited = (now - _submitted_at(job)).total_seconds()
    if waited > _max_wait_seconds():
        message = (
            f"still {state.state} at {job.backend} {waited:.0f} s after submission, past "
            f"HARDWARE_MAX_WAIT_SECONDS = {_max_wait_seconds():g} s; the portal asked the vendor to cancel "
            f"remote job {job.remote_id}"
        )
        return _give_up(job, code="hardware_wait_limit", message=message)
    # Keep the ETA where the UI can show it; a successful poll ends any run of poll errors.
    vendor = {
        "state": str(state.state),
        "queue_position": state.queue_position,
        "eta_seconds": state.eta_seconds,
        "detail": state.detail,
        "polled_at": now.isoformat(),
    }
    meta = note_running({k: v for k, v in job.result_meta.items() if k not in _POLL_ERROR_KEYS}, state.state, now)
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(result_meta={**meta, "vendor": vendor})
    _enqueue_poll(str(job.pk), job.not_before or now)
    return str(state.state)


def _submitted_at(job: Job) -> datetime:
    """When the vendor got the job: stored at submission; the claim time for rows from before that."""
    stored = job.result_meta.get("submitted_at")
    return datetime.fromisoformat(stored) if stored else (job.started_at or job.created_at)


def _give_up(job: Job, *, code: str, message: str) -> str:
    """Fail a remote job the portal stops polling, and cancel it at the vendor (best effort): nobody
    collects its result any more, so it must not run and bill."""
    if _fail(job, job.attempts, code=code, message=message):
        _cancel_remote(job.backend, job.remote_id)
    return "failed"


def _on_poll_error(job: Job, exc: AdapterError, now: datetime) -> str:
    """A transient poll error: poll again after a backoff, and fail after HARDWARE_POLL_MAX_ERRORS in a row.

    The backoff (the retry backoff, by error count) lets the limit ride out a vendor outage of about
    an hour at the defaults instead of a minute; without the limit a vanished vendor is polled forever.
    """
    errors = int(job.result_meta.get("poll_errors", 0)) + 1
    message = exc.vendor_message or str(exc)
    limit = _poll_max_errors()
    if errors >= limit:
        return _give_up(
            job,
            code="poll_error_limit",
            message=f"gave up polling {job.backend} remote job {job.remote_id} after {errors} transient errors "
            f"in a row (HARDWARE_POLL_MAX_ERRORS = {limit}); last error: {message}",
        )
    next_poll = now + timedelta(seconds=max(_poll_seconds(), _backoff_seconds(errors)))
    meta = {**job.result_meta, "poll_errors": errors, "last_poll_error": message}
    if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        result_meta=meta, not_before=next_poll
    ):
        _enqueue_poll(str(job.pk), next_poll)
    return "poll failed; retrying"


def poll_hardware_jobs(now: datetime | None = None) -> int:
    """Sweeper (scheduled on the hardware cluster): revive the poll chain of every running remote
    job whose next poll is overdue — its task was lost with a dead worker. Returns how many."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=max(10.0, 3 * _poll_seconds()))
    revived = 0
    ids = Job.objects.filter(status=JobStatus.RUNNING).exclude(remote_id="")
    ids = ids.filter(Q(not_before__isnull=True) | Q(not_before__lt=overdue)).values_list("pk", flat=True)
    for job_id in ids:
        _enqueue_poll(str(job_id), timezone.now())  # due at once, whatever `now` the caller passed
        revived += 1
    return revived


# --- schedules ------------------------------------------------------------------------------------
SCHEDULES: tuple[dict[str, Any], ...] = (
    # django-q2's scheduler wakes every 30 s and its finest interval is one minute. A schedule must
    # name its cluster: one without runs only on the default cluster, which `serve` does not start.
    {"name": "jobs.reap_jobs", "func": "jobs.reaper.reap_jobs", "cluster": INTERACTIVE, "minutes": 1},
    {"name": "jobs.poll_hardware_jobs", "func": "jobs.tasks.poll_hardware_jobs", "cluster": HARDWARE, "minutes": 1},
    {
        "name": "budgets.money_sweep",
        "func": "budgets.tasks.money_sweep",
        "cluster": INTERACTIVE,
        "minutes": SWEEP_MINUTES,
    },
)


def ensure_schedules(using: str = "default") -> None:
    """Create or repair the periodic schedules; idempotent (run after every migrate)."""
    from django_q.models import Schedule

    for spec in SCHEDULES:
        Schedule.objects.using(using).update_or_create(
            name=spec["name"],
            defaults={
                "func": spec["func"],
                "cluster": spec["cluster"],
                "schedule_type": Schedule.MINUTES,
                "minutes": spec["minutes"],
                "repeats": -1,
            },
        )
