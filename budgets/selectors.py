"""Reads for views, the API and other apps: teams, budgets, holds, the ledger, alerts and prices.

Access control lives here: everything "for_user" is scoped to the teams the user is a member of, so
another team's budget simply is not in the queryset (the API answers 404 for it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import HttpRequest

from budgets.models import (
    ApiToken,
    Budget,
    BudgetAlert,
    ExperimentClass,
    Hold,
    LedgerEntry,
    Membership,
    Period,
    PriceModel,
    Role,
    Team,
)

SESSION_TEAM = "current_team"  # the session key of the team chosen in the top bar


def teams_for_user(user: AbstractBaseUser) -> QuerySet[Team]:
    """The teams the user is a member of (none for an anonymous user; superusers get no extra teams)."""
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).distinct()


def current_team(request: HttpRequest) -> Team | None:
    """The team chosen in the top bar, or None for "All my teams". Always one of the user's teams."""
    if not hasattr(request, "_current_team"):
        slug = request.session.get(SESSION_TEAM) if request.user.is_authenticated else None
        request._current_team = teams_for_user(request.user).filter(slug=slug).first() if slug else None
    return request._current_team


def membership_for(user: AbstractBaseUser, team: Team) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, team=team).first()


def budget_for(*, team: Team, experiment_class: ExperimentClass) -> Budget | None:
    return budget_for_ids(team_id=team.pk, experiment_class_id=experiment_class.pk)


def budget_for_ids(*, team_id: int, experiment_class_id: int) -> Budget | None:
    """`budget_for` by ids, for a caller holding a job row without its team and class."""
    of = Budget.objects.select_related("team", "experiment_class")
    return of.filter(team_id=team_id, experiment_class_id=experiment_class_id).order_by("pk").first()


def budgets_for_user(user: AbstractBaseUser) -> QuerySet[Budget]:
    """Budgets of the user's teams only, with team and class joined (one query for a list)."""
    if not user.is_authenticated:
        return Budget.objects.none()
    return Budget.objects.select_related("team", "experiment_class").filter(
        team__in=Team.objects.filter(memberships__user=user)
    )


def period_end_for(budget: Budget) -> datetime | None:
    """When the current period ends: the first instant of next month for monthly budgets, else None."""
    if budget.period != Period.MONTHLY:
        return None
    start = budget.period_start
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.replace(month=start.month + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


def budget_usage(budget: Budget) -> dict[str, Any]:
    """Where a budget stands, in micros: what the UI's bars, the admin's columns and the API show."""
    used = budget.spent_micros + budget.reserved_micros
    percent = round(100 * used / budget.limit_micros, 1) if budget.limit_micros > 0 else (100.0 if used else 0.0)
    return {
        "limit_micros": budget.limit_micros,
        "spent_micros": budget.spent_micros,
        "reserved_micros": budget.reserved_micros,
        "remaining_micros": max(budget.remaining_micros, 0),
        "percent_used": percent,
        "approval_threshold_micros": budget.approval_threshold_micros,
        "max_tier": budget.max_tier,
        "period": budget.period,
        "period_start": budget.period_start,
        "period_end": period_end_for(budget),
        "currency": settings.CURRENCY,
    }


def usage_bar(budget: Budget) -> dict[str, Any]:
    """budget_usage plus the widths of the spent and reserved parts of a usage bar, in percent."""
    usage = budget_usage(budget)
    limit = usage["limit_micros"] or 1
    return {
        **usage,
        "spent_pct": min(100.0, 100 * usage["spent_micros"] / limit),
        "reserved_pct": min(100.0, 100 * usage["reserved_micros"] / limit),
    }


def holds_for_budget(budget: Budget, *, status: str | None = None) -> QuerySet[Hold]:
    holds = Hold.objects.select_related("job").filter(budget=budget)
    return holds.filter(status=status) if status else holds


def ledger_for_budget(budget: Budget, limit: int = 50) -> QuerySet[LedgerEntry]:
    """The newest `limit` ledger entries of one budget."""
    return LedgerEntry.objects.select_related("actor", "hold").filter(budget=budget)[:limit]


def active_alerts_for_user(user: AbstractBaseUser) -> QuerySet[BudgetAlert]:
    """For the banner: this period's highest alert per budget of the user's teams (a budget at 80 %
    shows one line, not the 50 % one as well)."""
    if not user.is_authenticated:
        return BudgetAlert.objects.none()
    higher = BudgetAlert.objects.filter(
        budget=OuterRef("budget"),
        period_start=OuterRef("period_start"),
        threshold_percent__gt=OuterRef("threshold_percent"),
    )
    return (
        BudgetAlert.objects.select_related("budget__team", "budget__experiment_class")
        .filter(
            budget__team__in=Team.objects.filter(memberships__user=user),
            period_start=F("budget__period_start"),
        )
        .exclude(Exists(higher))
        .order_by("-threshold_percent", "budget__team__slug", "budget__experiment_class__slug")
    )


def price_override(backend_id: str) -> PriceModel | None:
    """The admin's price for this backend id, if one was set (it wins over the adapter's built-in)."""
    return PriceModel.objects.filter(backend_id=backend_id).first()


def approvers_for_team(team: Team) -> QuerySet[AbstractBaseUser]:
    """Active users who may sign off this team's jobs (role approver or team admin)."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__team=team,
            memberships__role__in=[Role.APPROVER, Role.ADMIN],
        )
        .distinct()
        .order_by("username")
    )


def tokens_for_user(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The user's own API tokens, newest first (revoked ones included, for the record)."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user)
