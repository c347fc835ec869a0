"""The controls a member uses on a team's job: pause, resume, cancel, reroute, rerun. Which control a
status allows is `jobs.controls`."""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from adapters import registry
from budgets import services as budget_services
from jobs import approvals, controls, rerun, selectors
from jobs.lifecycle import transition
from jobs.models import Job, JobStatus
from jobs.services.reestimate import approval_or_queue, job_budget, job_reestimate
from jobs.services.submit import job_submit
from jobs.services.writes import NON_TERMINAL, enqueue_queued, illegal_transition, job_audit, job_lock

logger = logging.getLogger(__name__)


def job_pause(*, user: AbstractBaseUser, job_id: object, reason: str = "") -> Job:
    """Queued or awaiting approval → paused, remembering where it came from. A paused job keeps its hold
    and its pending approval; a worker that picks up its task finds it not queued and does nothing."""
    with transaction.atomic():
        job = job_lock(user, job_id)
        if not controls.allows("pause", job.status) or not transition(
            job.pk,
            from_statuses=[job.status],
            to_status=JobStatus.PAUSED,
            actor=user,
            reason=reason or "paused",
            paused_from=job.status,
        ):
            raise illegal_transition(job.pk, "paused")
        job_audit("job.pause", user=user, job=job, paused_from=job.status, reason=reason)
    job.refresh_from_db()
    return job


def job_resume(*, user: AbstractBaseUser, job_id: object, reason: str = "") -> Job:
    """Paused → where it was paused from (queued, enqueued again on commit; or awaiting approval)."""
    with transaction.atomic():
        job = job_lock(user, job_id)
        if not controls.allows("resume", job.status):
            raise illegal_transition(job.pk, "resumed")
        target = JobStatus.AWAITING_APPROVAL if job.paused_from == JobStatus.AWAITING_APPROVAL else JobStatus.QUEUED
        extra: dict[str, Any] = {"queued_at": timezone.now()} if target == JobStatus.QUEUED else {}
        if not transition(
            job.pk,
            from_statuses=[JobStatus.PAUSED],
            to_status=target,
            actor=user,
            reason=reason or "resumed",
            paused_from="",
            **extra,
        ):
            raise illegal_transition(job.pk, "resumed")
        if target == JobStatus.QUEUED:
            enqueue_queued(job)
        job_audit("job.resume", user=user, job=job, to=target, reason=reason)
    job.refresh_from_db()
    return job


def job_cancel(*, user: AbstractBaseUser, job_id: object, reason: str = "") -> Job:
    """Any non-terminal status → cancelled; the hold is released (a cancelled job costs nothing) and a
    vendor job already submitted is cancelled through its adapter after commit (best effort: a result
    that arrives later finds the job cancelled and is dropped by the worker's conditional update)."""
    with transaction.atomic():
        job = job_lock(user, job_id)
        if not transition(
            job.pk,
            from_statuses=NON_TERMINAL,
            to_status=JobStatus.CANCELLED,
            actor=user,
            reason=reason or "cancelled",
            finished_at=timezone.now(),
        ):
            raise illegal_transition(job.pk, "cancelled")
        budget_services.hold_release(job=job, reason=f"cancelled by {user.get_username()}", actor=user)
        approvals.approval_withdraw(job_id=job.pk, why="job cancelled", by=user)
        if job.remote_id:  # submitted to a vendor: its poller stops at "cancelled", so cancel it here
            transaction.on_commit(functools.partial(vendor_cancel, job.backend, job.remote_id))
        job_audit("job.cancel", user=user, job=job, from_status=job.status, reason=reason)
    job.refresh_from_db()
    return job


def vendor_cancel(backend_id: str, remote_id: str) -> None:
    try:
        registry.get_adapter(backend_id).cancel(remote_id)
    except Exception:
        logger.exception("cancel of remote job %s on %s failed", remote_id, backend_id)


def job_reroute(*, user: AbstractBaseUser, job_id: object, backend: str, reason: str = "") -> Job:
    """Move a queued, paused or awaiting job to `backend`: re-estimated within its max_tier and the
    backend's capabilities, hold adjusted; then to approval when the new estimate needs it (a new
    request), else queued and enqueued on commit. A running job cannot be rerouted (cancel it)."""
    with transaction.atomic():
        job = job_lock(user, job_id)
        if not controls.allows("reroute", job.status):
            raise illegal_transition(job.pk, "rerouted")
        old_backend, from_status = job.backend, job.status
        decision, fields, reasons = job_reestimate(
            job=job, budget=job_budget(job), backend=backend, shots=job.shots, actor=user
        )
        Job.objects.filter(pk=job.pk).update(**fields)
        note = reason or f"rerouted from {old_backend} to {decision.backend_id}"
        if not reasons:
            why = f"rerouted to {decision.backend_id}; no sign-off needed"
            approvals.approval_withdraw(job_id=job.pk, why=why, by=user)
        approval_or_queue(job=job, user=user, reasons=reasons, from_status=from_status, note=note)
        job_audit(
            "job.reroute",
            user=user,
            job=job,
            from_backend=old_backend,
            to_backend=decision.backend_id,
            cost_micros=decision.cost_micros,
            reason=reason,
        )
    job.refresh_from_db()
    return job


def job_rerun(*, user: AbstractBaseUser, job_id: object, on: str = rerun.AS_SUBMITTED) -> Job:
    """A new job from this one's request (`on`: as submitted, or pinned to the backend it ran on; see
    `jobs.rerun`), forced to execute (no_cache). The original is untouched."""
    job = selectors.job_get_for_user(user, job_id)
    result = job_submit(user=user, request=rerun.request_for(job, on=on))
    job_audit("job.rerun", user=user, job=result.job, rerun_of=str(job.pk), on=on)
    return result.job
