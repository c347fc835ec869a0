"""Budget alerts at 50/80/100 %, top-ups and new periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail

from budgets.errors import Invalid
from budgets.models import AuditEvent, Budget, BudgetAlert, LedgerEntry, LedgerKind
from budgets.money import to_micros
from budgets.selectors import active_alerts_for_user, budget_usage
from budgets.services import (
    budget_new_period,
    budget_roll_periods,
    budget_top_up,
    hold_reserve,
    hold_settle,
)


@pytest.fixture
def spend(cast, make_job, django_capture_on_commit_callbacks):  # noqa: ANN001, ANN201
    """Reserve and settle `amount` on qlab's budget, running the after-commit alert check."""

    def run(amount: str) -> None:
        job = make_job()
        with django_capture_on_commit_callbacks(execute=True):
            hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros(amount))
        with django_capture_on_commit_callbacks(execute=True):
            hold_settle(job=job, actual_micros=to_micros(amount))

    return run


def thresholds(budget: Budget) -> list[int]:
    return sorted(BudgetAlert.objects.filter(budget=budget).values_list("threshold_percent", flat=True))


def test_alerts_fire_once_at_each_threshold_and_mail_the_approvers(cast, spend):
    spend("49.00")
    assert thresholds(cast.qlab_budget) == [] and mail.outbox == []
    spend("2.00")  # 51 %
    assert thresholds(cast.qlab_budget) == [50]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["bob@example.org"]  # the approver; not alice, not optics' dave
    assert "qlab / algorithm_validation: 50% of the budget used" in mail.outbox[0].subject
    spend("10.00")  # 61 %: nothing new
    assert thresholds(cast.qlab_budget) == [50] and len(mail.outbox) == 1
    spend("20.00")  # 81 %
    spend("19.00")  # 100 %
    assert thresholds(cast.qlab_budget) == [50, 80, 100]
    assert len(mail.outbox) == 3
    assert AuditEvent.objects.filter(action="budget.alert", team=cast.qlab).count() == 3


def test_a_reservation_alone_counts_towards_the_threshold(cast, make_job, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("85.00"))
    assert thresholds(cast.qlab_budget) == [50, 80]
    assert len(mail.outbox) == 1  # one mail naming the highest threshold, not one per threshold
    assert "80%" in mail.outbox[0].subject


def test_alerts_fire_again_after_a_new_period(cast, spend):
    spend("60.00")
    assert thresholds(cast.qlab_budget) == [50]
    budget_new_period(budget=cast.qlab_budget, actor=None)
    spend("55.00")
    assert BudgetAlert.objects.filter(budget=cast.qlab_budget, threshold_percent=50).count() == 2
    assert len(mail.outbox) == 2


def test_the_banner_shows_the_highest_alert_of_this_period_to_the_team_only(cast, spend):
    spend("85.00")
    banner = list(active_alerts_for_user(cast.alice))
    assert [(a.budget_id, a.threshold_percent) for a in banner] == [(cast.qlab_budget.pk, 80)]
    assert list(active_alerts_for_user(cast.carol)) == []
    budget_new_period(budget=cast.qlab_budget, actor=None)
    assert list(active_alerts_for_user(cast.alice)) == []


def test_top_up_raises_the_limit_and_is_on_the_ledger_and_audit_trail(cast, make_job):
    hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("100.00"))
    budget = budget_top_up(budget=cast.qlab_budget, amount_micros=to_micros("25.00"), actor=cast.bob, memo="grant")
    assert budget.limit_micros == 125_000_000 and budget.remaining_micros == 25_000_000
    entry = LedgerEntry.objects.get(budget=budget, kind=LedgerKind.TOP_UP)
    assert (entry.amount_micros, entry.actor, entry.memo) == (25_000_000, cast.bob, "grant")
    assert AuditEvent.objects.filter(action="budget.top_up", actor=cast.bob).exists()
    with pytest.raises(Invalid):
        budget_top_up(budget=budget, amount_micros=0, actor=cast.bob)


def test_new_period_clears_spending_but_keeps_running_jobs_reserved(cast, make_job):
    done, running = make_job(), make_job()
    hold_reserve(job=done, budget=cast.qlab_budget, amount_micros=to_micros("30.00"))
    hold_settle(job=done, actual_micros=to_micros("30.00"))
    hold_reserve(job=running, budget=cast.qlab_budget, amount_micros=to_micros("5.00"))
    budget = budget_new_period(budget=cast.qlab_budget, actor=cast.bob)
    assert (budget.spent_micros, budget.reserved_micros) == (0, 5_000_000)
    assert budget.period_start > cast.qlab_budget.period_start
    entry = LedgerEntry.objects.get(budget=budget, kind=LedgerKind.NEW_PERIOD)
    assert entry.amount_micros == -30_000_000 and "USD 5.00 reserved carried over" in entry.memo
    hold_settle(job=running, actual_micros=to_micros("5.00"))
    assert Budget.objects.get(pk=budget.pk).spent_micros == 5_000_000


def test_monthly_budgets_roll_over_when_the_month_changes_and_only_once(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("10.00"))
    hold_settle(job=job, actual_micros=to_micros("10.00"))
    start = cast.qlab_budget.period_start
    next_month = datetime(start.year + start.month // 12, start.month % 12 + 1, 3, tzinfo=UTC)
    assert budget_roll_periods(now=start) == 0
    assert budget_roll_periods(now=next_month) == 2  # qlab and optics
    assert budget_roll_periods(now=next_month) == 0
    budget = Budget.objects.get(pk=cast.qlab_budget.pk)
    assert budget.spent_micros == 0
    assert budget.period_start == next_month.replace(day=1)
    assert budget_usage(budget)["period_end"].month == next_month.month % 12 + 1
