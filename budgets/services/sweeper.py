"""The sweeper: closes pending holds that outlived their job's flight (a leak, not a running job)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from budgets.models import Hold, HoldStatus, LedgerKind
from budgets.services.holds import hold_close, hold_settle

logger = logging.getLogger(__name__)

# Job statuses (as strings: budgets never imports jobs) whose hold the sweeper leaves alone.
ACTIVE_JOB_STATUSES = ("awaiting_approval", "queued", "running", "paused")


def holds_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Sweeper: close pending holds past `expires_at` whose job is no longer in flight; returns how many.

    Conservative on purpose: a hold whose job is awaiting approval, queued, running or paused is never
    touched — the orchestration releases or settles those. What is left are leaks (a worker that died
    between finishing a job and settling it, a job stuck in `submitted`). A succeeded job that recorded
    its cost is settled at that cost rather than given away; every other leak expires and its money
    goes back to the budget. Each hold is closed in its own transaction, re-checked under its row lock.
    """
    now = now or timezone.now()
    ids = list(
        Hold.objects.filter(status=HoldStatus.PENDING, expires_at__lt=now)
        .exclude(job__status__in=ACTIVE_JOB_STATUSES)
        .values_list("pk", flat=True)[:batch]
    )
    closed = 0
    for pk in ids:
        with transaction.atomic():
            hold = Hold.objects.select_for_update().filter(pk=pk, status=HoldStatus.PENDING).first()
            if hold is None:
                continue
            job = hold.job
            if job.status in ACTIVE_JOB_STATUSES:
                continue
            if job.status == "succeeded" and job.cost_micros is not None:
                closed += hold_settle(job=job, actual_micros=job.cost_micros) is not None
                continue
            hold_close(
                hold=hold,
                status=HoldStatus.EXPIRED,
                kind=LedgerKind.EXPIRE,
                memo=f"job {job.pk} ({job.status}): hold expired at {hold.expires_at:%Y-%m-%d %H:%M} UTC",
                actor=None,
                now=now,
            )
            closed += 1
    if closed:
        logger.info("expired or settled %d stale holds", closed)
    return closed
