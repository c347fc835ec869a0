"""Approval decisions: an approver's approve or reject, and the sweeper that expires undecided requests.
The rules a decision checks are `jobs.approvals`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from budgets import services as budget_services
from budgets.errors import BudgetExceeded, Conflict, Forbidden, Invalid
from budgets.models import Membership
from jobs import approvals
from jobs.lifecycle import transition
from jobs.models import Approval, ApprovalStatus, Job, JobStatus
from jobs.services.money import hold_reserve_or_park
from jobs.services.notifications import mail_on_commit, submitter_notify
from jobs.services.reestimate import job_budget, job_reestimate
from jobs.services.writes import enqueue_queued, illegal_transition, job_audit, job_lock


def approval_decide(
    *,
    user: AbstractBaseUser,
    job_id: object,
    decision: str,
    comment: str = "",
    backend: str | None = None,
    shots: int | None = None,
) -> Job:
    """Approve or reject a job awaiting sign-off.

    The decider must be an approver or admin of the job's team (another team's job: NotFound; a
    researcher: Forbidden) and not its submitter (Forbidden). The decision is a conditional UPDATE
    on the pending, unexpired Approval, under the job's row lock: of two approvers deciding at once,
    one wins and the other gets Conflict naming who decided. An approver may change the backend or
    the shots; the job is re-estimated and its hold adjusted. An approval checks the job against its
    budget as it is now (`jobs.approvals`): a tier above a since-lowered cap is Invalid
    (`tier_not_allowed`), money that no longer fits is BudgetExceeded naming the budget, and the reasons
    it needs sign-off now are recorded. Approve → queued (enqueued on commit); reject → rejected and
    the hold released, whatever the budget says. The submitter is mailed on commit.
    """
    if decision not in ("approve", "reject"):
        raise Invalid("decision must be approve or reject", field="decision")
    if shots is not None and not 1 <= shots <= 1_000_000:
        raise Invalid("shots must be between 1 and 1000000", field="shots")
    with transaction.atomic():
        job = job_lock(user, job_id)
        membership = Membership.objects.filter(user=user, team=job.team).first()
        if membership is None or not membership.can_approve:
            raise Forbidden("only an approver or admin of the team can decide approvals", code="not_approver")
        if job.submitted_by_id == user.pk:
            raise Forbidden("you cannot approve your own job", code="own_job")
        approval = Approval.objects.filter(job=job).select_related("decided_by").first()
        if approval is None:
            raise Conflict("this job has no approval request", code="no_approval")
        now = timezone.now()
        approvals.check_decidable(job=job, approval=approval, now=now)
        changes, reasons = {}, approval.reasons
        if decision == "approve":  # against the budget's tier cap and rules as they are now
            with approvals.tier_refusals_unprocessable():
                changes = approver_changes_apply(job=job, user=user, backend=backend, shots=shots)
            job.refresh_from_db(fields=["estimate", "backend", "tier"])
            budget = job_budget(job)
            reasons = approvals.approval_recheck(job=job, budget=budget, requested=approval.reasons)
        status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
        won = Approval.objects.filter(pk=approval.pk, status=ApprovalStatus.PENDING, expires_at__gt=now).update(
            status=status, decided_by=user, decided_at=now, comment=comment, changes=changes, reasons=reasons
        )
        if not won:
            approval.refresh_from_db()
            approvals.check_decidable(job=job, approval=approval, now=now)
            raise Conflict("the approval could not be decided", code="already_decided")
        if decision == "approve":
            # A parked (over-budget) job is reserved now; no room → BudgetExceeded, nothing decided.
            try:
                hold_reserve_or_park(
                    job=job, budget=budget, amount_micros=int(job.estimate["cost_micros"]), actor=user, park=False
                )
            except BudgetExceeded as exc:
                raise approvals.budget_refusal(exc, budget) from None
            moved = transition(
                job.pk,
                from_statuses=[JobStatus.AWAITING_APPROVAL],
                to_status=JobStatus.QUEUED,
                actor=user,
                reason=comment or "approved",
                data={"changes": changes, "reasons": reasons},
                queued_at=now,
            )
            if moved:
                enqueue_queued(job)
        else:
            moved = transition(
                job.pk,
                from_statuses=[JobStatus.AWAITING_APPROVAL],
                to_status=JobStatus.REJECTED,
                actor=user,
                reason=comment or "rejected",
                finished_at=now,
            )
            if moved:
                budget_services.hold_release(job=job, reason=f"rejected by {user.get_username()}", actor=user)
        if not moved:
            raise illegal_transition(job.pk, "approved" if decision == "approve" else "rejected")
        job.refresh_from_db()
        submitter_notify(job, "approved" if decision == "approve" else "rejected", user, comment)
        job_audit(f"job.{decision}", user=user, job=job, comment=comment, changes=changes, reasons=reasons)
    return job


def approver_changes_apply(
    *, job: Job, user: AbstractBaseUser, backend: str | None, shots: int | None
) -> dict[str, Any]:
    """Apply an approver's backend/shots change (re-estimate, adjust the hold); the change record."""
    if (backend is None or backend == job.backend) and (shots is None or shots == job.shots):
        return {}
    before = {"backend": job.backend, "shots": job.shots, "cost_micros": job.estimate.get("cost_micros")}
    decision, fields, _ = job_reestimate(
        job=job, budget=job_budget(job), backend=backend or job.backend, shots=shots or job.shots, actor=user
    )
    Job.objects.filter(pk=job.pk).update(**fields)
    after = {"backend": decision.backend_id, "shots": fields["shots"], "cost_micros": decision.cost_micros}
    return {"before": before, "after": after}


def approvals_expire(now: datetime | None = None) -> int:
    """Sweeper: pending approvals past `expires_at` whose job awaits approval → expired; the job is
    rejected ("approval expired") and its hold released. Each in its own transaction; a decision that
    races the sweeper wins or loses on the same conditional UPDATE. Returns how many expired."""
    now = now or timezone.now()
    due = list(
        Approval.objects.filter(
            status=ApprovalStatus.PENDING, expires_at__lte=now, job__status=JobStatus.AWAITING_APPROVAL
        ).values_list("pk", "job_id")
    )
    expired = 0
    for approval_id, job_id in due:
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id).first()
            if job is None:
                continue
            if not Approval.objects.filter(pk=approval_id, status=ApprovalStatus.PENDING, expires_at__lte=now).update(
                status=ApprovalStatus.EXPIRED, decided_at=now
            ):
                continue
            if transition(
                job_id,
                from_statuses=[JobStatus.AWAITING_APPROVAL],
                to_status=JobStatus.REJECTED,
                actor_label="approval-sweeper",
                reason="approval expired",
                finished_at=now,
            ):
                budget_services.hold_release(job=job, reason="approval expired")
                mail_on_commit(
                    f"[Hybrid Portal] your job {str(job_id)[:8]} was rejected: approval expired",
                    f"No approver decided within {approvals.approval_ttl()}. Resubmit it if it is still needed.",
                    [job.submitted_by.email],
                )
            expired += 1
    return expired
