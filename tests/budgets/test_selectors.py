"""Reads scoped to the user's teams, and the numbers the budget pages show."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from budgets.models import Membership, PriceModel
from budgets.money import to_micros
from budgets.selectors import (
    approvers_for_team,
    budget_for,
    budget_usage,
    budgets_for_user,
    holds_for_budget,
    ledger_for_budget,
    membership_for,
    price_override,
    teams_for_user,
)
from budgets.services import hold_reserve, hold_settle
from tests import factories


def test_a_researcher_sees_only_their_own_teams_budgets(cast):
    assert list(budgets_for_user(cast.alice)) == [cast.qlab_budget]
    assert list(budgets_for_user(cast.carol)) == [cast.optics_budget]
    assert list(budgets_for_user(AnonymousUser())) == []
    assert list(teams_for_user(cast.alice)) == [cast.qlab]
    assert membership_for(cast.alice, cast.optics) is None
    assert membership_for(cast.bob, cast.qlab).can_approve


def test_a_member_of_two_teams_sees_both_once(cast):
    Membership.objects.create(user=cast.alice, team=cast.optics, role="researcher")
    assert {b.pk for b in budgets_for_user(cast.alice)} == {cast.qlab_budget.pk, cast.optics_budget.pk}
    assert budgets_for_user(cast.alice).count() == 2
    assert teams_for_user(cast.alice).count() == 2


def test_approvers_are_the_teams_approvers_and_admins_only(cast):
    lead = factories.make_user("erin", cast.qlab, "admin")
    assert list(approvers_for_team(cast.qlab)) == [cast.bob, lead]
    lead.is_active = False
    lead.save()
    assert list(approvers_for_team(cast.qlab)) == [cast.bob]


def test_usage_adds_up_what_the_budget_page_shows(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("30.00"))
    hold_settle(job=job, actual_micros=to_micros("20.00"))
    hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("5.00"))
    budget = budget_for(team=cast.qlab, experiment_class=cast.klass)
    usage = budget_usage(budget)
    assert (usage["spent_micros"], usage["reserved_micros"], usage["remaining_micros"]) == (
        20_000_000,
        5_000_000,
        75_000_000,
    )
    assert usage["percent_used"] == 25.0 and usage["currency"] == "USD"
    assert usage["period_end"] > usage["period_start"]
    assert holds_for_budget(budget, status="pending").count() == 1
    assert [e.kind for e in ledger_for_budget(budget, limit=3)] == ["reserve", "release", "settle"]


def test_an_admin_price_overrides_the_adapters_price(db):
    assert price_override("ibm:fake_torino") is None
    PriceModel.objects.create(backend_id="ibm:fake_torino", kind="per_second", per_second_micros=1_600_000)
    assert price_override("ibm:fake_torino").per_second_micros == 1_600_000
