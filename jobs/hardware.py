"""Hardware jobs (tier 3): submit to the vendor, poll by remote id, give up.

A hardware job never blocks a worker on a vendor queue: the remote id is stored before anything else
can fail, and polling goes by remote id, so a restarted worker resumes where the dead one stopped and
never submits twice (the job id is also the vendor's idempotency token). Polling ends after
HARDWARE_POLL_MAX_ERRORS transient poll errors in a row, or HARDWARE_MAX_WAIT_SECONDS after
submission: the job fails and the remote job is cancelled.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from adapters.base import AdapterError, PollResult, RemoteState
from adapters.registry import get_adapter
from budgets.models import HARDWARE_TIER
from budgets.services import hold_release
from jobs.execution import (
    WORKER,
    adapter_error_handle,
    backoff_seconds,
    execution_request,
    job_claim,
    job_fail,
    job_for_run,
    log_ids,
    result_store,
    run_cost_micros,
    run_deadline,
    tier_cap_refuse,
)
from jobs.lifecycle import transition
from jobs.models import Job, JobStatus
from jobs.queueing import enqueue_job, poll_enqueue
from jobs.vendor_queue import RUNNING_SEEN, note_running, run_start, vendor_queue_span

logger = logging.getLogger(__name__)

# result_meta keys counting a hardware job's consecutive transient poll errors; a good poll drops them.
_POLL_ERROR_KEYS = ("poll_errors", "last_poll_error")


def _poll_seconds() -> float:
    return float(getattr(settings, "HARDWARE_POLL_SECONDS", 2.0))


def _poll_max_errors() -> int:
    """Transient poll errors in a row after which a hardware job fails (a success resets the count)."""
    return int(getattr(settings, "HARDWARE_POLL_MAX_ERRORS", 20))


def _max_wait_seconds() -> float:
    """How long a remote job may stay queued or running at the vendor, from its submission."""
    return float(getattr(settings, "HARDWARE_MAX_WAIT_SECONDS", 7 * 24 * 3600.0))


def hardware_job_submit(job_id: str) -> str:
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
        poll_enqueue(str(job.pk), now)
        return "already submitted; polling"
    if job.status != JobStatus.QUEUED:
        return f"skipped ({job.status})"
    if job.not_before is not None and job.not_before > now:
        return "deferred"
    if not job.remote_id and (refused := tier_cap_refuse(job, now)):  # not yet at the vendor
        return refused
    attempt = job_claim(job, now=now, deadline=None if job.remote_id else run_deadline(now))
    if attempt is None:
        return "skipped (claimed elsewhere)"
    if not job.remote_id:
        try:
            remote_id = get_adapter(job.backend).submit(execution_request(job))
        except AdapterError as exc:
            return adapter_error_handle(job, attempt, exc)
        except Exception as exc:
            logger.exception("job %s could not be submitted", job.pk, extra=log_ids(job))
            job_fail(job, attempt, code="worker_error", message=f"{type(exc).__name__}: {exc}")
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
            _remote_cancel(job.backend, remote_id)
            return "discarded (job changed while submitting)"
    poll_enqueue(str(job.pk), timezone.now() + timedelta(seconds=_poll_seconds()))
    return "submitted"


def _remote_cancel(backend_id: str, remote_id: str) -> None:
    try:
        get_adapter(backend_id).cancel(remote_id)
    except Exception:
        logger.warning("could not cancel remote job %s on %s", remote_id, backend_id, exc_info=True)


def _poll_slot_claim(job_id: object, now: datetime) -> bool:
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


def hardware_job_poll(job_id: str) -> str:
    """Poll one submitted hardware job by its remote id; store the result when the vendor is done."""
    now = timezone.now()
    if not _poll_slot_claim(job_id, now):
        return "skipped (not due, or not running)"
    job = job_for_run(job_id)
    if job is None:  # deleted since its poll slot was claimed
        return "missing"
    adapter = get_adapter(job.backend)
    try:
        state: PollResult = adapter.poll(job.remote_id)
    except AdapterError as exc:
        if exc.transient:
            return _poll_error_handle(job, exc, now)
        job_fail(job, job.attempts, code=exc.code, message=exc.vendor_message or str(exc))
        return "failed"
    if state.state is RemoteState.DONE:
        try:
            result = adapter.result(job.remote_id)
            cost = run_cost_micros(adapter, job, result)
            # Keep when it was submitted and the last queue report next to the result.
            meta = {"remote_id": job.remote_id}
            meta |= {k: job.result_meta[k] for k in ("submitted_at", "vendor", RUNNING_SEEN) if k in job.result_meta}
            ran = timedelta(seconds=result.transpile_seconds + result.execute_seconds)
            started = run_start(job.result_meta, now - ran)
            submitted = _submitted_at(job)
            meta["vendor_queue_seconds"] = max(0.0, (started - submitted).total_seconds())
            stored = result_store(
                job,
                job.attempts,
                result,
                cost_micros=cost,
                started=started,
                extra_meta=meta,
                waits=vendor_queue_span(submitted, started, job.backend),
            )
        except AdapterError as exc:
            return adapter_error_handle(job, job.attempts, exc)
        return "succeeded" if stored else "discarded (job changed while running)"
    if state.state is RemoteState.FAILED:
        job_fail(job, job.attempts, code="backend_failed", message=state.detail or "the vendor reports the job failed")
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
                hold_release(job=job, reason="cancelled by the vendor")
        return "cancelled"
    # Still queued or running at the vendor.
    waited = (now - _submitted_at(job)).total_seconds()
    if waited > _max_wait_seconds():
        message = (
            f"still {state.state} at {job.backend} {waited:.0f} s after submission, past "
            f"HARDWARE_MAX_WAIT_SECONDS = {_max_wait_seconds():g} s; the portal asked the vendor to cancel "
            f"remote job {job.remote_id}"
        )
        return _remote_give_up(job, code="hardware_wait_limit", message=message)
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
    poll_enqueue(str(job.pk), job.not_before or now)
    return str(state.state)


def _submitted_at(job: Job) -> datetime:
    """When the vendor got the job: stored at submission; the claim time for rows from before that."""
    stored = job.result_meta.get("submitted_at")
    return datetime.fromisoformat(stored) if stored else (job.started_at or job.created_at)


def _remote_give_up(job: Job, *, code: str, message: str) -> str:
    """Fail a remote job the portal stops polling, and cancel it at the vendor (best effort): nobody
    collects its result any more, so it must not run and bill."""
    if job_fail(job, job.attempts, code=code, message=message):
        _remote_cancel(job.backend, job.remote_id)
    return "failed"


def _poll_error_handle(job: Job, exc: AdapterError, now: datetime) -> str:
    """A transient poll error: poll again after a backoff, and fail after HARDWARE_POLL_MAX_ERRORS in a row.

    The backoff (the retry backoff, by error count) lets the limit ride out a vendor outage of about
    an hour at the defaults instead of a minute; without the limit a vanished vendor is polled forever.
    """
    errors = int(job.result_meta.get("poll_errors", 0)) + 1
    message = exc.vendor_message or str(exc)
    limit = _poll_max_errors()
    if errors >= limit:
        return _remote_give_up(
            job,
            code="poll_error_limit",
            message=f"gave up polling {job.backend} remote job {job.remote_id} after {errors} transient errors "
            f"in a row (HARDWARE_POLL_MAX_ERRORS = {limit}); last error: {message}",
        )
    next_poll = now + timedelta(seconds=max(_poll_seconds(), backoff_seconds(errors)))
    meta = {**job.result_meta, "poll_errors": errors, "last_poll_error": message}
    if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        result_meta=meta, not_before=next_poll
    ):
        poll_enqueue(str(job.pk), next_poll)
    return "poll failed; retrying"


def overdue_polls_revive(now: datetime | None = None) -> int:
    """Sweeper (scheduled on the hardware cluster): revive the poll chain of every running remote
    job whose next poll is overdue — its task was lost with a dead worker. Returns how many."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=max(10.0, 3 * _poll_seconds()))
    revived = 0
    ids = Job.objects.filter(status=JobStatus.RUNNING).exclude(remote_id="")
    ids = ids.filter(Q(not_before__isnull=True) | Q(not_before__lt=overdue)).values_list("pk", flat=True)
    for job_id in ids:
        poll_enqueue(str(job_id), timezone.now())  # due at once, whatever `now` the caller passed
        revived += 1
    return revived
