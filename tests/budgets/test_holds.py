"""Reserving, settling and releasing money for jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from budgets.errors import BudgetExceeded, Conflict, Forbidden
from budgets.models import AuditEvent, Budget, Hold, HoldStatus, LedgerEntry, LedgerKind
from budgets.money import to_micros
from budgets.services import (
    approval_reasons,
    budget_set,
    check_tier_allowed,
    hold_adjust,
    hold_release,
    hold_reserve,
    hold_settle,
    holds_expire,
)


def fresh(budget: Budget) -> Budget:
    return Budget.objects.get(pk=budget.pk)


def kinds(budget: Budget) -> list[str]:
    return list(LedgerEntry.objects.filter(budget=budget).order_by("id").values_list("kind", flat=True))


def test_reserving_moves_money_from_remaining_to_reserved_and_writes_the_ledger(cast, make_job):
    job = make_job()
    hold = hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("2.50"), actor=cast.alice)
    budget = fresh(cast.qlab_budget)
    assert (budget.reserved_micros, budget.spent_micros, budget.remaining_micros) == (2_500_000, 0, 97_500_000)
    assert hold.status == HoldStatus.PENDING and hold.expires_at > timezone.now()
    entry = LedgerEntry.objects.get(hold=hold)
    assert (entry.kind, entry.amount_micros, entry.actor) == (LedgerKind.RESERVE, 2_500_000, cast.alice)


def test_submitter_sees_remaining_amount_when_budget_is_exhausted(cast, make_job):
    hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("99.00"))
    with pytest.raises(BudgetExceeded) as info:
        hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("1.50"))
    err = info.value
    assert "USD 1.00 left" in err.message and "needs USD 1.50" in err.message
    assert err.field == "budget" and err.status == 422
    assert err.detail == {"remaining": "1.00", "needed": "1.50", "currency": "USD"}
    assert fresh(cast.qlab_budget).reserved_micros == 99_000_000
    assert Hold.objects.count() == 1


def test_reserving_twice_for_the_same_job_keeps_one_hold(cast, make_job):
    job = make_job()
    first = hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=1_000_000)
    second = hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=1_000_000)
    assert first.pk == second.pk
    assert fresh(cast.qlab_budget).reserved_micros == 1_000_000
    assert kinds(cast.qlab_budget).count(LedgerKind.RESERVE) == 1


def test_a_free_job_gets_a_zero_hold_so_it_settles_like_any_other(cast, make_job):
    job = make_job()
    hold = hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=0)
    assert hold.amount_micros == 0
    assert hold_settle(job=job, actual_micros=0).status == HoldStatus.SETTLED
    assert fresh(cast.qlab_budget).remaining_micros == cast.qlab_budget.limit_micros


def test_a_hold_on_another_teams_budget_is_refused(cast, make_job):
    with pytest.raises(Exception, match="does not belong"):
        hold_reserve(job=make_job(), budget=cast.optics_budget, amount_micros=1)


def test_actual_cost_below_the_estimate_gives_the_difference_back(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("5.00"))
    hold = hold_settle(job=job, actual_micros=to_micros("3.20"))
    budget = fresh(cast.qlab_budget)
    assert (budget.spent_micros, budget.reserved_micros) == (3_200_000, 0)
    assert budget.remaining_micros == to_micros("96.80")
    assert hold.status == HoldStatus.SETTLED and hold.settled_micros == 3_200_000
    settle, release = LedgerEntry.objects.filter(hold=hold).exclude(kind=LedgerKind.RESERVE).order_by("id")
    assert (settle.kind, settle.amount_micros) == (LedgerKind.SETTLE, 3_200_000)
    assert (release.kind, release.amount_micros) == (LedgerKind.RELEASE, 1_800_000)


def test_settling_twice_charges_once(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("5.00"))
    assert hold_settle(job=job, actual_micros=to_micros("5.00")) is not None
    assert hold_settle(job=job, actual_micros=to_micros("5.00")) is None
    assert fresh(cast.qlab_budget).spent_micros == 5_000_000
    assert kinds(cast.qlab_budget).count(LedgerKind.SETTLE) == 1


def test_a_failed_job_costs_nothing(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("7.00"))
    hold = hold_release(job=job, reason="backend error")
    budget = fresh(cast.qlab_budget)
    assert (budget.spent_micros, budget.reserved_micros) == (0, 0)
    assert hold.status == HoldStatus.RELEASED
    assert LedgerEntry.objects.filter(hold=hold, kind=LedgerKind.RELEASE, memo__contains="backend error").exists()
    assert hold_release(job=job, reason="again") is None
    assert hold_settle(job=job, actual_micros=1) is None  # a released hold is never charged later
    assert fresh(cast.qlab_budget).spent_micros == 0


def test_vendor_billing_more_than_the_estimate_is_charged(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("2.00"))
    hold_settle(job=job, actual_micros=to_micros("3.00"))
    budget = fresh(cast.qlab_budget)
    assert (budget.spent_micros, budget.reserved_micros) == (3_000_000, 0)


def test_vendor_overrun_beyond_the_limit_is_capped_and_reported_not_crashing_the_worker(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("99.00"))
    hold = hold_settle(job=job, actual_micros=to_micros("120.00"))
    budget = fresh(cast.qlab_budget)
    assert budget.spent_micros == budget.limit_micros == 100_000_000
    assert hold.settled_micros == 100_000_000
    assert "USD 20.00 over the limit not booked" in LedgerEntry.objects.get(hold=hold, kind=LedgerKind.SETTLE).memo
    overrun = AuditEvent.objects.get(action="budget.overrun")
    assert overrun.detail["unbooked_micros"] == 20_000_000


def test_reestimate_up_and_down_moves_the_reservation(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("5.00"))
    hold_adjust(job=job, amount_micros=to_micros("8.00"))
    assert fresh(cast.qlab_budget).reserved_micros == 8_000_000
    hold_adjust(job=job, amount_micros=to_micros("1.00"))
    assert fresh(cast.qlab_budget).reserved_micros == 1_000_000
    with pytest.raises(BudgetExceeded, match="USD 99.00 left"):
        hold_adjust(job=job, amount_micros=to_micros("101.00"))
    assert Hold.objects.get(job=job).amount_micros == 1_000_000


def test_reestimating_a_settled_job_is_a_conflict(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=1)
    hold_settle(job=job, actual_micros=1)
    with pytest.raises(Conflict):
        hold_adjust(job=job, amount_micros=2)


def test_a_released_hold_can_reserve_again_when_the_job_comes_back(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("4.00"))
    hold_release(job=job, reason="paused")
    hold = hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("6.00"))
    assert hold.status == HoldStatus.PENDING and hold.amount_micros == 6_000_000
    assert fresh(cast.qlab_budget).reserved_micros == 6_000_000


def test_a_charged_job_cannot_reserve_again(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("1.00"))
    hold_settle(job=job, actual_micros=to_micros("1.00"))
    with pytest.raises(Conflict, match="already been charged"):
        hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("1.00"))
    assert fresh(cast.qlab_budget).reserved_micros == 0


def test_the_database_itself_refuses_an_update_that_would_overspend(cast):
    with pytest.raises(IntegrityError), transaction.atomic():
        Budget.objects.filter(pk=cast.qlab_budget.pk).update(spent_micros=F("limit_micros") + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Budget.objects.filter(pk=cast.qlab_budget.pk).update(reserved_micros=-1)
    assert fresh(cast.qlab_budget).spent_micros == 0


def test_a_limit_below_what_is_spent_and_reserved_is_refused(cast, make_job):
    hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("30.00"))
    with pytest.raises(ValueError, match="below what is already spent and reserved"):
        budget_set(team=cast.qlab, experiment_class=cast.klass, limit_micros=to_micros("20.00"))
    assert fresh(cast.qlab_budget).limit_micros == 100_000_000


def test_sweeper_expires_a_stale_hold_and_returns_its_money(cast, make_job):
    stale = make_job(status="failed")
    hold_reserve(job=stale, budget=cast.qlab_budget, amount_micros=to_micros("9.00"))
    later = timezone.now() + timedelta(days=2)
    assert holds_expire(now=later) == 1
    assert Hold.objects.get(job=stale).status == HoldStatus.EXPIRED
    assert fresh(cast.qlab_budget).reserved_micros == 0
    assert LedgerKind.EXPIRE in kinds(cast.qlab_budget)
    assert holds_expire(now=later) == 0


def test_sweeper_leaves_young_holds_and_jobs_still_in_flight_alone(cast, make_job):
    young = make_job(status="failed")
    hold_reserve(job=young, budget=cast.qlab_budget, amount_micros=1_000_000)
    assert holds_expire() == 0
    for status in ("awaiting_approval", "queued", "running", "paused"):
        hold_reserve(job=make_job(status=status), budget=cast.qlab_budget, amount_micros=1_000_000)
    assert holds_expire(now=timezone.now() + timedelta(days=2)) == 1  # only the failed one
    assert Hold.objects.filter(status=HoldStatus.PENDING).count() == 4
    assert fresh(cast.qlab_budget).reserved_micros == 4_000_000


def test_sweeper_charges_a_finished_job_that_recorded_its_cost_instead_of_giving_it_away(cast, make_job):
    job = make_job(status="succeeded", cost_micros=to_micros("2.00"))
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("3.00"))
    assert holds_expire(now=timezone.now() + timedelta(days=2)) == 1
    budget = fresh(cast.qlab_budget)
    assert (budget.spent_micros, budget.reserved_micros) == (2_000_000, 0)


def test_costly_or_hardware_jobs_need_sign_off_and_say_why(cast):
    budget = cast.qlab_budget  # threshold USD 10.00
    assert approval_reasons(budget=budget, experiment_class=cast.klass, tier=0, cost_micros=to_micros("10.00")) == []
    assert approval_reasons(budget=budget, experiment_class=cast.klass, tier=2, cost_micros=to_micros("12.50")) == [
        "estimate USD 12.50 above the approval threshold USD 10.00"
    ]
    reasons = approval_reasons(budget=budget, experiment_class=cast.klass, tier=3, cost_micros=0)
    assert reasons == [f"tier 3 (hardware) needs sign-off in {cast.klass.name}"]


def test_a_tier_above_the_budgets_max_tier_is_refused(cast):
    budget = budget_set(team=cast.qlab, experiment_class=cast.klass, limit_micros=100_000_000, max_tier=1)
    check_tier_allowed(budget=budget, tier=1)
    with pytest.raises(Forbidden) as info:
        check_tier_allowed(budget=budget, tier=3)
    assert info.value.field == "max_tier" and "tier 3 (hardware)" in info.value.message
