"""A job's money: its estimate reserved or held, or the reason it waits for a sign-off in a class
that parks over-budget jobs."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from budgets import services as budget_services
from budgets.errors import BudgetExceeded
from budgets.models import Budget, Hold, HoldStatus
from jobs.models import Job
from jobs.services.planning import Plan


def hold_reserve_or_park(*, job: Job, budget: Budget, amount_micros: int, actor: AbstractBaseUser, park: bool) -> str:
    """Hold the job's estimate (a new hold, or the pending one re-sized). Returns "" when the money is
    held. When it does not fit, BudgetExceeded propagates — unless the experiment class parks
    over-budget jobs (`park`): then nothing is held and the reason the job waits for a sign-off is
    returned; approval reserves again and is refused while the budget has no room."""
    try:
        if Hold.objects.filter(job=job, status=HoldStatus.PENDING).exists():
            budget_services.hold_adjust(job=job, amount_micros=amount_micros, actor=actor)
        else:
            budget_services.hold_reserve(job=job, budget=budget, amount_micros=amount_micros, actor=actor)
    except BudgetExceeded as exc:
        if not park:
            raise
        return parked_reason(exc)
    return ""


def parked_reason(exc: BudgetExceeded) -> str:
    return f"over budget ({exc.message}): parked until an approver signs off and the budget has room"


def budget_reserve_or_park(plan: Plan) -> str:
    """A new job's money, taken before its row is written: "" when reserved, else (for an experiment
    class that parks over-budget jobs) why the job waits for a sign-off; otherwise BudgetExceeded."""
    try:
        budget_services.budget_reserve(budget=plan.budget, amount_micros=plan.cost_micros)
    except BudgetExceeded as exc:
        if not plan.experiment_class.park_over_budget:
            raise
        return parked_reason(exc)
    return ""
