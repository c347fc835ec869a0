"""Budgets API: what each of the caller's teams may still spend."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from budgets.api_auth import READ
from budgets.schemas import BudgetOut, errors
from budgets.selectors import budget_usage, budgets_for_user

router = Router(tags=["budgets"])


@router.get("/budgets", response={200: list[BudgetOut], **errors()}, auth=READ)
def list_budgets(request: HttpRequest) -> list[BudgetOut]:
    """Budgets of your teams, one per team × experiment class: limit, spent, reserved, remaining."""
    return [BudgetOut.render(budget, budget_usage(budget)) for budget in budgets_for_user(request.user)]
