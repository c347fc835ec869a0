"""Budget alerts: each 50/80/100 % threshold fires once per period, with a mail to the approvers."""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.db import transaction

from budgets.models import Budget, BudgetAlert
from budgets.money import format_money
from budgets.selectors import approvers_for_team
from budgets.services.audit import audit_record

logger = logging.getLogger(__name__)

ALERT_THRESHOLDS = (50, 80, 100)


def alerts_check(*, budget: Budget) -> list[BudgetAlert]:
    """Fire each 50/80/100 % threshold of (spent + reserved) / limit once per budget period; returns the
    alerts this call created. Race-safe: the unique (budget, threshold, period_start) constraint lets only
    one of several concurrent checks create an alert, and only that one writes the audit event and mails
    the team's approvers and admins (after commit)."""
    budget = Budget.objects.select_related("team", "experiment_class").get(pk=budget.pk)
    if budget.limit_micros <= 0:
        return []
    used = budget.spent_micros + budget.reserved_micros
    created_alerts = []
    for threshold in ALERT_THRESHOLDS:
        if used * 100 < threshold * budget.limit_micros:
            break
        with transaction.atomic():
            alert, created = BudgetAlert.objects.get_or_create(
                budget=budget,
                threshold_percent=threshold,
                period_start=budget.period_start,
                defaults={"used_micros": used},
            )
            if created:
                audit_record(
                    action="budget.alert",
                    team=budget.team,
                    target=f"budget:{budget.pk}",
                    detail={"threshold_percent": threshold, "used_micros": used, "limit_micros": budget.limit_micros},
                )
                created_alerts.append(alert)
    if created_alerts:
        transaction.on_commit(lambda: alert_mail(budget, created_alerts[-1].threshold_percent, used))
    return created_alerts


def alerts_check_later(budget_pk: int) -> None:
    """Alerts after the money moved and committed; never lets an alert failure reach the caller."""

    def run() -> None:
        try:
            budget = Budget.objects.filter(pk=budget_pk).first()
            if budget is not None:
                alerts_check(budget=budget)
        except Exception:
            logger.exception("budget alert check failed for budget %s", budget_pk)

    transaction.on_commit(run)


def alert_mail(budget: Budget, threshold: int, used: int) -> None:
    """Mail the team's approvers and admins that `budget` crossed `threshold` %."""
    recipients = sorted({u.email for u in approvers_for_team(budget.team) if u.email})
    if not recipients:
        return
    name = f"{budget.team.slug} / {budget.experiment_class.slug}"
    try:
        send_mail(
            subject=f"[Hybrid Portal] {name}: {threshold}% of the budget used",
            message=(
                f"The {budget.get_period_display().lower()} budget {name} has reached {threshold}% of its limit.\n\n"
                f"Limit:     {format_money(budget.limit_micros)}\n"
                f"Spent:     {format_money(budget.spent_micros)}\n"
                f"Reserved:  {format_money(budget.reserved_micros)}\n"
                f"Remaining: {format_money(max(budget.limit_micros - used, 0))}\n\n"
                "Jobs that do not fit what is left are refused. An admin can top the budget up."
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        logger.exception("could not mail the budget alert for budget %s", budget.pk)
