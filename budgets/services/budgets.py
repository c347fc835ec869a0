"""Budgets: set a limit and rules, top up, start a new period; and the budget rules the job path asks."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from budgets.errors import Invalid
from budgets.models import Budget, ExperimentClass, LedgerKind, Period, Team
from budgets.money import format_money
from budgets.services.alerts import alerts_check_later
from budgets.services.audit import audit_record
from budgets.services.ledger import ledger_write


def period_start_for(period: str, now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    if period == Period.MONTHLY:
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return datetime(2000, 1, 1, tzinfo=now.tzinfo)


def budget_set(
    *,
    team: Team,
    experiment_class: ExperimentClass,
    limit_micros: int | None,
    period: str | None = None,
    approval_threshold_micros: int | None = None,
    max_tier: int | None = None,
    actor: AbstractBaseUser | None = None,
) -> Budget:
    """Create or change a budget's limit and rules; the change goes to the ledger and the audit trail.

    A limit below what is already spent + reserved is refused (the CHECK constraint would be broken).
    `limit_micros=None` keeps an existing budget's limit (a change of its rules only).
    """
    if limit_micros is not None and limit_micros < 0:
        raise ValueError("limit must not be negative")
    if max_tier is not None and not 0 <= max_tier <= 3:
        raise ValueError("max_tier must be between 0 and 3")
    with transaction.atomic():
        budget, created = Budget.objects.select_for_update().get_or_create(
            team=team,
            experiment_class=experiment_class,
            defaults={
                "period": period or Period.MONTHLY,
                "period_start": period_start_for(period or Period.MONTHLY),
            },
        )
        if limit_micros is None:
            if created:
                raise ValueError(f"a limit is required: {team.slug} has no budget for {experiment_class.slug} yet")
            limit_micros = budget.limit_micros
        used = budget.spent_micros + budget.reserved_micros
        if limit_micros < used:
            raise ValueError(
                f"the limit {format_money(limit_micros)} is below what is already spent and reserved "
                f"({format_money(used)})"
            )
        old_limit = budget.limit_micros
        budget.limit_micros = limit_micros
        if period is not None and period != budget.period:
            budget.period = period
            budget.period_start = period_start_for(period)
        if approval_threshold_micros is not None:
            budget.approval_threshold_micros = approval_threshold_micros
        if max_tier is not None:
            budget.max_tier = max_tier
        budget.save()
        ledger_write(
            budget_id=budget.pk,
            kind=LedgerKind.SET_LIMIT,
            amount_micros=limit_micros - old_limit,
            actor=actor,
            memo=_limit_memo(old_limit, limit_micros, created=created),
        )
        audit_record(
            action="budget.set",
            actor=actor,
            team=team,
            target=f"budget:{budget.pk}",
            detail={
                "experiment_class": experiment_class.slug,
                "limit": format_money(limit_micros),
                "previous_limit": None if created else format_money(old_limit),
                "approval_threshold": format_money(budget.approval_threshold_micros),
                "max_tier": budget.max_tier,
                "period": budget.period,
            },
        )
        alerts_check_later(budget.pk)  # a lower limit can cross a threshold too
    return budget


def _limit_memo(old_micros: int, new_micros: int, *, created: bool) -> str:
    """The ledger's words for a limit change, in the currency: "limit USD 0.00 → USD 50.00"."""
    if created:
        return f"new budget, limit {format_money(new_micros)}"
    return f"limit {format_money(old_micros)} → {format_money(new_micros)}"


# --- the budget's rules, as the job path asks them (the rules themselves live on `Budget`) ----------
def approval_reasons(*, budget: Budget, experiment_class: ExperimentClass, tier: int, cost_micros: int) -> list[str]:
    """Why a job needs a second person's sign-off; empty when it does not (`Budget.approval_reasons`)."""
    if budget.experiment_class_id == experiment_class.pk:
        budget.experiment_class = experiment_class  # already read: the rule needs its approval tier
    return budget.approval_reasons(cost_micros, tier)


def check_tier_allowed(*, budget: Budget, tier: int) -> None:
    """Refuse a backend tier above what this budget allows (`Budget.check_tier`)."""
    budget.check_tier(tier)


# --- limits and periods ---------------------------------------------------------------------------
def budget_top_up(*, budget: Budget, amount_micros: int, actor: AbstractBaseUser | None, memo: str = "") -> Budget:
    """Raise a budget's limit by `amount_micros` (> 0) for the rest of this period."""
    if amount_micros <= 0:
        raise Invalid("a top-up must be a positive amount", field="amount")
    with transaction.atomic():
        Budget.objects.filter(pk=budget.pk).update(
            limit_micros=F("limit_micros") + amount_micros, updated_at=timezone.now()
        )
        budget = Budget.objects.select_related("team", "experiment_class").get(pk=budget.pk)
        ledger_write(
            budget_id=budget.pk,
            kind=LedgerKind.TOP_UP,
            amount_micros=amount_micros,
            actor=actor,
            memo=(memo or f"top-up of {format_money(amount_micros)}")[:500],
        )
        audit_record(
            action="budget.top_up",
            actor=actor,
            team=budget.team,
            target=f"budget:{budget.pk}",
            detail={
                "amount": format_money(amount_micros),
                "limit": format_money(budget.limit_micros),
                "memo": memo[:200],
            },
        )
    return budget


def period_restart(
    *, budget_pk: int, start: datetime, actor: AbstractBaseUser | None, only_before: datetime | None
) -> bool:
    """Reset `spent` to 0 from `start`; reservations stay (their jobs are still running and settle into
    the new period). With `only_before`, does nothing if another process already rolled this budget."""
    with transaction.atomic():
        budget = Budget.objects.select_for_update().select_related("team", "experiment_class").get(pk=budget_pk)
        if only_before is not None and budget.period_start >= only_before:
            return False
        old_spent, old_start = budget.spent_micros, budget.period_start
        Budget.objects.filter(pk=budget.pk).update(spent_micros=0, period_start=start, updated_at=timezone.now())
        ledger_write(
            budget_id=budget.pk,
            kind=LedgerKind.NEW_PERIOD,
            amount_micros=-old_spent,
            actor=actor,
            memo=(
                f"new period from {start:%Y-%m-%d %H:%M} UTC: {format_money(old_spent)} spent since "
                f"{old_start:%Y-%m-%d} cleared, {format_money(budget.reserved_micros)} reserved carried over"
            ),
        )
        audit_record(
            action="budget.new_period",
            actor=actor,
            team=budget.team,
            target=f"budget:{budget.pk}",
            detail={"previous_spent": format_money(old_spent), "period_start": start.isoformat()},
        )
        alerts_check_later(budget.pk)
    return True


def budget_new_period(*, budget: Budget, actor: AbstractBaseUser | None) -> Budget:
    """Start a new period now: spent back to 0, pending reservations kept; alerts may fire again."""
    period_restart(budget_pk=budget.pk, start=timezone.now(), actor=actor, only_before=None)
    return Budget.objects.select_related("team", "experiment_class").get(pk=budget.pk)


def budget_roll_periods(*, now: datetime | None = None) -> int:
    """Start a new period on every monthly budget whose period began before this month; returns how
    many. Safe to run from several workers at once (each budget is re-checked under its row lock)."""
    month_start = period_start_for(Period.MONTHLY, now or timezone.now())
    ids = Budget.objects.filter(period=Period.MONTHLY, period_start__lt=month_start).values_list("pk", flat=True)
    return sum(period_restart(budget_pk=pk, start=month_start, actor=None, only_before=month_start) for pk in ids)
