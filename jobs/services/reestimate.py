"""A job already submitted, estimated again on another backend or shots, and sent to approval or the queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from adapters import ir
from adapters.versions import sdk_versions
from budgets import selectors as budget_selectors
from budgets import services as budget_services
from budgets.errors import Conflict, Invalid
from budgets.models import Budget
from budgets.money import format_money
from jobs import approvals, policy
from jobs.lifecycle import transition
from jobs.models import Job, JobStatus
from jobs.services.money import hold_reserve_or_park
from jobs.services.notifications import approvers_notify
from jobs.services.writes import backend_calibration, enqueue_queued, illegal_transition, jsonable


def job_reestimate(
    *, job: Job, budget: Budget, backend: str | None, shots: int, actor: AbstractBaseUser
) -> tuple[policy.Decision, dict[str, Any], list[str]]:
    """Re-estimate a job on `backend` (or let the policy choose) with `shots`; re-size its hold.
    Returns the decision, the Job fields to write, and the approval reasons it now has (including
    "over budget" for a class that parks over-budget jobs)."""
    circuit = ir.Circuit.from_json(job.circuit)
    decision = policy.select_backend(
        circuit=circuit,
        family=job.family,
        shots=shots,
        max_tier=min(job.max_tier, budget.max_tier),
        backend_pin=backend,
        priority=job.priority,
        budget_remaining_micros=budget.remaining_micros,
        prefers_noise=False,
        team=job.team,
        seed=job.seed,
    )
    budget_services.check_tier_allowed(budget=budget, tier=decision.tier)
    if job.budget_ceiling_micros is not None and decision.cost_micros > job.budget_ceiling_micros:
        raise Invalid(
            f"the estimate {format_money(decision.cost_micros)} on {decision.backend_id} is above this job's "
            f"ceiling {format_money(job.budget_ceiling_micros)}",
            field="budget_ceiling",
            code="over_budget_ceiling",
        )
    parked = hold_reserve_or_park(
        job=job,
        budget=budget,
        amount_micros=decision.cost_micros,
        actor=actor,
        park=job.experiment_class.park_over_budget,
    )
    versions = sdk_versions()
    fields = {
        "backend": decision.backend_id,
        "tier": decision.tier,
        "emulated": decision.emulated,
        "shots": shots,
        "policy_reasons": list(decision.reasons),
        "estimate": jsonable({**decision.estimate, "reasons": list(decision.reasons)}),
        "fingerprint": ir.fingerprint(circuit, shots=shots, backend=decision.backend_id, sdk_versions=versions),
        "sdk_versions": versions,
        "calibration": backend_calibration(decision.backend_id),
    }
    reasons = budget_services.approval_reasons(
        budget=budget, experiment_class=job.experiment_class, tier=decision.tier, cost_micros=decision.cost_micros
    )
    return decision, fields, reasons + ([parked] if parked else [])


def job_budget(job: Job) -> Budget:
    budget = budget_selectors.budget_for(team=job.team, experiment_class=job.experiment_class)
    if budget is None:
        raise Conflict(f"team {job.team.slug} no longer has a budget for {job.experiment_class.slug}")
    return budget


def approval_or_queue(
    *,
    job: Job,
    user: AbstractBaseUser,
    reasons: list[str],
    from_status: str,
    note: str = "",
    stages: Sequence[tuple[str, datetime, datetime, dict[str, Any]]] = (),
) -> None:
    """Send the job to approval (with an Approval request and mail to approvers) or to the queue.
    `stages`: timed stages to record with the transition (the submit's validate, assemble, select)."""
    now = timezone.now()
    if reasons:
        moved = transition(
            job.pk,
            from_statuses=[from_status],
            to_status=JobStatus.AWAITING_APPROVAL,
            actor=user,
            reason=note or "needs approval: " + "; ".join(reasons),
            needs_approval=True,
            paused_from="",
            stages=stages,
            instance=job,
        )
        if not moved:
            raise illegal_transition(job.pk, "sent for approval")
        approvals.approval_open(job=job, reasons=reasons)
        approvers_notify(job, reasons)
    else:
        moved = transition(
            job.pk,
            from_statuses=[from_status],
            to_status=JobStatus.QUEUED,
            actor=user,
            reason=note or "queued",
            needs_approval=False,
            queued_at=now,
            paused_from="",
            stages=stages,
            instance=job,
        )
        if not moved:
            raise illegal_transition(job.pk, "queued")
        enqueue_queued(job)
