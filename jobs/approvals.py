"""Approval requests, and the budget's rules checked again when a decision or a worker makes them matter.

A job waits for sign-off under the rules its budget had when it was submitted, and an admin may tighten
them meanwhile (`set_budget --max-tier`, a lower limit, a lower threshold). So an approval re-reads the
budget and checks the job against it as it is now — its tier cap, its money, its approval rules — and a
worker checks the tier cap once more when it picks a queued job up, since the cap may be lowered between
the approval and the run. A rejection is never refused: it only gives money back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from adapters import ir
from budgets import selectors as budget_selectors
from budgets.errors import BudgetExceeded, Conflict, Forbidden, Invalid, ServiceError
from budgets.models import Budget, tier_text
from budgets.money import format_money
from jobs import policy
from jobs.models import Approval, ApprovalStatus, Job, JobStatus

TIER_NOT_ALLOWED = "tier_not_allowed"


# --- requests -------------------------------------------------------------------------------------
def approval_ttl() -> timedelta:
    return timedelta(hours=float(getattr(settings, "HYBRIDPORTAL_APPROVAL_TTL_HOURS", 72)))


def approval_open(*, job: Job, reasons: list[str]) -> Approval:
    """A pending sign-off request for a job that may have had one before (a reroute): reopened."""
    now = timezone.now()
    approval, _ = Approval.objects.update_or_create(
        job=job,
        defaults={
            "status": ApprovalStatus.PENDING,
            "reasons": reasons,
            "requested_at": now,
            "expires_at": now + approval_ttl(),
            "decided_by": None,
            "decided_at": None,
            "comment": "",
            "changes": {},
        },
    )
    return approval


def approvals_open_new(waiting: Sequence[tuple[Job, list[str]]]) -> None:
    """Pending sign-off requests for (job, reasons) of jobs created in this transaction (so none has one
    yet), in one INSERT."""
    now = timezone.now()
    Approval.objects.bulk_create(
        [
            Approval(
                job=job,
                status=ApprovalStatus.PENDING,
                reasons=reasons,
                requested_at=now,
                expires_at=now + approval_ttl(),
            )
            for job, reasons in waiting
        ]
    )


def approval_withdraw(*, job_id: uuid.UUID, why: str, by: AbstractBaseUser | None = None) -> None:
    Approval.objects.filter(job_id=job_id, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.WITHDRAWN, comment=why, decided_at=timezone.now(), decided_by=by
    )


def check_decidable(*, job: Job, approval: Approval, now: datetime) -> None:
    """Conflict unless `approval` is pending, unexpired, and its job awaits approval."""
    if approval.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        who = approval.decided_by.get_username() if approval.decided_by else "someone"
        raise Conflict(f"already decided by {who} ({approval.status})", code="already_decided")
    if approval.status == ApprovalStatus.WITHDRAWN:
        raise Conflict("the approval request was withdrawn", code="approval_withdrawn")
    if approval.status == ApprovalStatus.EXPIRED or approval.expires_at <= now:
        raise Conflict(
            f"the approval request expired at {approval.expires_at:%Y-%m-%d %H:%M} UTC; resubmit the job",
            code="approval_expired",
        )
    if job.status != JobStatus.AWAITING_APPROVAL:
        raise Conflict(f"job is {job.status}; it cannot be decided now", code="illegal_transition")


# --- the budget's rules, as they are now ------------------------------------------------------------
def approval_recheck(*, job: Job, budget: Budget, requested: list[str]) -> list[str]:
    """Before a job is approved: Invalid (422, `tier_not_allowed`) when its budget no longer allows its
    tier, naming a backend within the cap to approve it on where one fits; otherwise the reasons it needs
    sign-off under the budget's rules now (`requested`, the reasons it was sent with, when none apply
    any more). The money is checked when the approval reserves it (`budget_refusal`).

    A plain read: a cap lowered after it is still caught, by the worker's check at pickup."""
    if not budget.allows_tier(job.tier):
        raise _tier_refused(job, budget)
    cost = int((job.estimate or {}).get("cost_micros", 0))
    return budget.approval_reasons(cost, job.tier or 0) or requested


def _tier_refused(job: Job, budget: Budget) -> Invalid:
    instead = _backend_within(job, budget)
    offer = (
        f"Approve it on {instead.backend_id} (tier {tier_text(instead.tier)}, estimate "
        f"{format_money(instead.cost_micros)}) instead, or reject it to release its reserved budget."
        if instead is not None
        else "Reject it to release its reserved budget."
    )
    return Invalid(
        f"job {str(job.pk)[:8]} cannot be approved on {job.backend}: {budget.tier_refusal(job.tier or 0)}. {offer}",
        field="backend",
        code=TIER_NOT_ALLOWED,
        detail={
            "tier": job.tier,
            "max_tier": budget.max_tier,
            "budget": budget.label,
            "suggested_backend": instead.backend_id if instead is not None else None,
        },
    )


def _backend_within(job: Job, budget: Budget) -> policy.Decision | None:
    """Where the job could run within the budget's cap: the same device's noisy emulation for a hardware
    job, else the policy's choice; None when nothing fits."""
    cap = min(job.max_tier, budget.max_tier)
    pins = [None]
    if job.backend.startswith("ibm:") and cap >= 2:
        pins.insert(0, "aer-noisy:" + job.backend.removeprefix("ibm:"))
    circuit = ir.Circuit.from_json(job.circuit)
    for pin in pins:
        try:
            return policy.select_backend(
                circuit=circuit,
                family=job.family,
                shots=job.shots,
                max_tier=cap,
                backend_pin=pin,
                priority=job.priority,
                prefers_noise=True,
                team=job.team,
                seed=job.seed,
            )
        except ServiceError:
            continue
    return None


@contextmanager
def tier_refusals_unprocessable() -> Iterator[None]:
    """An approver's choice of a backend the budget's cap rules out is 422, as the job's own tier is."""
    try:
        yield
    except Forbidden as exc:
        if exc.code != TIER_NOT_ALLOWED:
            raise
        raise Invalid(exc.message, field="backend", code=TIER_NOT_ALLOWED, detail=exc.detail) from None


def budget_refusal(exc: BudgetExceeded, budget: Budget) -> BudgetExceeded:
    """An approval whose money the budget cannot hold now (its limit was lowered, or a parked job still
    finds no room): the budget by name, its limit and use, and what the approver can do."""
    budget.refresh_from_db(fields=["limit_micros", "spent_micros", "reserved_micros"])
    return BudgetExceeded(
        f"cannot approve: {exc.message} (limit {format_money(budget.limit_micros)}, "
        f"{format_money(budget.spent_micros)} spent, {format_money(budget.reserved_micros)} reserved). "
        "Raise the budget's limit or reject the job.",
        field="budget",
        detail={**(exc.detail or {}), "budget": budget.label},
    )


def tier_cap_refusal(job: Job) -> str:
    """For a worker picking up a queued job: why its budget no longer lets it run (its tier cap was
    lowered after the job was approved or queued); "" when it may run."""
    if not job.tier:
        return ""  # a cap is never below tier 0: nothing to read
    budget = budget_selectors.budget_for_ids(team_id=job.team_id, experiment_class_id=job.experiment_class_id)
    if budget is None or budget.allows_tier(job.tier):
        return ""
    return f"{budget.tier_refusal(job.tier or 0)}; it was lowered after this job was queued"
