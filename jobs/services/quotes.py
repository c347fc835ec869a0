"""What a submission would do, with nothing created."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from budgets.money import format_money
from jobs.contract import JobRequest
from jobs.services.planning import contract_parse, plan_one


@dataclass
class Quote:
    """What a submission would do, with nothing created."""

    backend: str
    tier: int
    emulated: bool
    reasons: list[str]
    cost_micros: int
    seconds: float
    needs_approval: bool
    approval_reasons: list[str]
    budget_remaining_micros: int
    currency: str
    n_qubits: int
    fingerprint: str
    cached_from: uuid.UUID | None
    estimate: dict[str, Any] = field(default_factory=dict)  # what Job.estimate would hold
    within_budget: bool = True


def job_quote(*, user: AbstractBaseUser, request: JobRequest | dict[str, Any]) -> Quote:
    """What submitting `request` would do — backend and why, cost, time, approval — creating nothing.

    Raises the errors a submission would (Invalid naming the field, NotFound for another team's
    experiment, Forbidden for a tier the budget does not allow) — except that an estimate above what
    is left of the budget is answered, with `within_budget=False` and a reason saying so, so the user
    sees the price before the refusal."""
    plan = plan_one(user, contract_parse(request))
    d = plan.decision
    remaining = plan.budget.remaining_micros
    reasons = list(d.reasons)
    approval_reasons = list(plan.approval_reasons)
    if plan.cost_micros > remaining:
        parks = plan.experiment_class.park_over_budget
        over = (
            f"the estimate {format_money(plan.cost_micros)} is more than the {format_money(max(remaining, 0))} "
            f"left in the budget: a submission would be {'parked for approval' if parks else 'refused'}"
        )
        reasons.append(over)
        if parks:
            approval_reasons.append(over)
    return Quote(
        backend=d.backend_id,
        tier=d.tier,
        emulated=d.emulated,
        reasons=reasons,
        cost_micros=plan.cost_micros,
        seconds=0.0 if plan.cached else d.seconds,
        needs_approval=bool(approval_reasons),
        approval_reasons=approval_reasons,
        budget_remaining_micros=remaining,
        currency=settings.CURRENCY,
        n_qubits=plan.circuit.n_qubits,
        fingerprint=plan.fingerprint,
        cached_from=(plan.cached.cached_from_id or plan.cached.pk) if plan.cached else None,
        estimate={**d.estimate, "reasons": reasons, "cost_micros": plan.cost_micros},
        within_budget=plan.cost_micros <= remaining,
    )
