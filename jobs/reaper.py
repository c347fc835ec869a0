"""The reaper: returns work that lost its worker or its task; expires approvals and idempotency keys.

Two cadences. Every cluster's pusher calls `reap_dead` every JOB_HEARTBEAT_SECONDS (`jobs.heartbeat`),
so a job whose worker died is back in the queue about JOB_HEARTBEAT_STALE_SECONDS after its last
heartbeat. The `jobs.reap_jobs` schedule runs `reap_jobs` every minute on the interactive cluster:
`reap_dead` again, plus the slower housekeeping (lost enqueues, approvals, idempotency keys, task
records). django-q2's scheduler cannot do the first: its finest interval is a minute, it looks every
30 s, and its task would wait behind whatever long jobs occupy the cluster's workers.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.execution import REAPER, job_fail, max_attempts
from jobs.heartbeat import beat, beat_seconds, cluster_workers, stale_after
from jobs.lifecycle import transition
from jobs.models import Job, JobEvent, JobStatus
from jobs.queueing import enqueue_job, lost_after, waiting_task_job_ids
from jobs.services.approvals import approvals_expire
from jobs.services.idempotency import idempotency_keys_purge

logger = logging.getLogger(__name__)


def _dead(now: datetime) -> Q:
    """Running simulator jobs (and hardware jobs not yet at the vendor) whose worker is gone: past
    their deadline (the task time limit plus a margin), or silent past JOB_HEARTBEAT_STALE_SECONDS."""
    silent = Q(heartbeat_at__isnull=False, heartbeat_at__lt=now - stale_after())
    return Q(status=JobStatus.RUNNING, remote_id="") & (Q(deadline__lt=now) | silent)


def _why(row: Job, now: datetime) -> tuple[str, dict[str, Any]]:
    """Why the reaper takes this job from its worker, in words, and the facts behind it."""
    if row.heartbeat_at is not None and row.heartbeat_at < now - stale_after():
        silent = (now - row.heartbeat_at).total_seconds()
        why = f"no heartbeat from its worker for {silent:.0f} s (JOB_HEARTBEAT_STALE_SECONDS = "
        why += f"{stale_after().total_seconds():g} s): the worker was killed, ran out of memory, or its host went down"
        return why, {"heartbeat_at": row.heartbeat_at.isoformat(), "worker": row.worker}
    return "its worker ran past the task time limit or died", {"deadline": row.deadline.isoformat()}


def reap_dead(now: datetime | None = None) -> dict[str, int]:
    """Return running jobs whose worker is gone to the queue (and enqueue them), or fail them once they
    have been started JOB_MAX_ATTEMPTS times. Returns {"requeued": n, "failed": n, "ids": [...]}."""
    now = now or timezone.now()
    counts: dict[str, Any] = {"requeued": 0, "failed": 0, "ids": []}
    limit = max_attempts()
    for job_id in Job.objects.filter(_dead(now)).values_list("pk", flat=True):
        with transaction.atomic():
            # Locked and checked again: a heartbeat, a finish or another reaper may have come first.
            row = Job.objects.select_for_update().filter(_dead(now), pk=job_id).first()
            if row is None:
                continue
            why, data = _why(row, now)
            if row.attempts >= limit:
                reaped = JobEvent.objects.filter(job_id=row.pk, actor_label=REAPER, to_status=JobStatus.QUEUED)
                deaths = 1 + reaped.count()
                message = (
                    f"worker died {deaths} {'time' if deaths == 1 else 'times'} (killed, out of memory, stopped "
                    f"responding, or past the task time limit); giving up after {row.attempts} attempts. "
                    f"Last time: {why}"
                )
                counts["failed"] += job_fail(row, None, code="worker_died", message=message, actor_label=REAPER)
            elif transition(
                row.pk,
                from_statuses=[JobStatus.RUNNING],
                to_status=JobStatus.QUEUED,
                # Conditional on the attempt it read: a worker that claimed it since keeps it.
                expect={"attempts": row.attempts},
                actor_label=REAPER,
                reason=f"returned to the queue after attempt {row.attempts} of {limit}: {why}",
                data={"attempt": row.attempts, **data},
                deadline=None,
                not_before=None,
                heartbeat_at=None,
            ):
                counts["requeued"] += 1
                counts["ids"].append(row.pk)
                enqueue_job(row.pk)
    if counts["requeued"] or counts["failed"]:
        logger.info("reaper: requeued %d, failed %d", counts["requeued"], counts["failed"])
    return counts


def reap_jobs(now: datetime | None = None) -> dict[str, int]:
    """Return work that lost its worker or its task; expire approvals and idempotency keys.

    - Running jobs whose worker is gone (`reap_dead`) without a remote id go back to the queue, or fail
      after JOB_MAX_ATTEMPTS starts ("worker died 3 times").
    - Queued jobs with no pending task (an enqueue lost with a crashed web process, a backoff whose
      task went missing) are enqueued again once their `not_before` has passed.
    """
    now = now or timezone.now()
    dead = reap_dead(now)
    requeued = set(dead.pop("ids"))
    counts = {**dead, "reenqueued": 0}

    pending = waiting_task_job_ids()
    stale = Job.objects.filter(status=JobStatus.QUEUED, updated_at__lt=now - lost_after()).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )
    for job_id in stale.values_list("pk", flat=True):
        if job_id in requeued or (pending is not None and str(job_id) in pending):
            continue
        enqueue_job(job_id)
        counts["reenqueued"] += 1

    # Stale holds are swept by budgets.money_sweep; approvals and idempotency keys expire here.
    counts["approvals_expired"] = approvals_expire(now=now)
    counts["idempotency_keys_purged"] = idempotency_keys_purge(now=now)
    counts["task_results_purged"] = _task_results_purge(now)
    if counts["reenqueued"]:
        logger.info("reaper: %s", counts)
    return counts


def _task_results_purge(now: datetime) -> int:
    """Delete django-q2's successful task records older than Q_SUCCESS_KEEP_HOURS (save_limit is 0,
    so nothing else prunes them); failures stay for an admin to read."""
    from django_q.models import Success

    keep = timedelta(hours=float(getattr(settings, "Q_SUCCESS_KEEP_HOURS", 72)))
    deleted, _ = Success.objects.filter(stopped__lt=now - keep).delete()
    return deleted


class ClusterClock:
    """Run by a cluster's pusher between two pulls: every JOB_HEARTBEAT_SECONDS, beat for the cluster's
    live workers, then return jobs whose heartbeat went stale to the queue."""

    def __init__(self) -> None:
        self._due = 0.0
        self._pid = 0

    def seconds_to_next(self) -> float:
        return max(0.0, self._due - time.monotonic())

    def tick(self) -> None:
        if self._pid != os.getpid():  # a copy forked with the broker starts its own clock
            self._pid, self._due = os.getpid(), 0.0
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + beat_seconds()
        try:
            beat(cluster_workers())
            reap_dead()
        except Exception:
            # A database that is briefly away must not stop the pusher; the next tick tries again.
            logger.warning("heartbeat tick failed", exc_info=True)
