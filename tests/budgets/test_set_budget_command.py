"""`manage.py set_budget`: periods and limits that would undercut what is already committed."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from budgets.models import Budget, LedgerEntry, LedgerKind
from budgets.money import to_micros
from budgets.services import hold_reserve, hold_settle
from tests.factories import make_class


def test_set_budget_switches_the_period(cast, capsys):
    call_command("set_budget", "qlab", "algorithm_validation", "--limit", "500", "--period", "all_time")
    budget = Budget.objects.get(team=cast.qlab, experiment_class=cast.klass)
    assert budget.period == "all_time" and budget.limit_micros == 500_000_000
    assert "limit USD 500.00 all_time" in capsys.readouterr().out


def test_set_budget_refuses_a_limit_below_spending_and_changes_nothing(cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("30.00"))
    hold_settle(job=job, actual_micros=to_micros("30.00"))
    hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("15.00"))
    entries = LedgerEntry.objects.count()
    with pytest.raises(CommandError, match=r"USD 44.99 is below what is already spent and reserved \(USD 45.00\)"):
        call_command("set_budget", "qlab", "algorithm_validation", "--limit", "44.99")
    assert Budget.objects.get(pk=cast.qlab_budget.pk).limit_micros == 100_000_000
    assert LedgerEntry.objects.count() == entries
    call_command("set_budget", "qlab", "algorithm_validation", "--limit", "45")
    assert LedgerEntry.objects.filter(kind=LedgerKind.SET_LIMIT).first().amount_micros == -55_000_000



def test_set_budget_without_a_limit_changes_only_the_rules_and_a_new_budget_needs_one(cast, capsys):
    call_command("set_budget", "qlab", "algorithm_validation", "--max-tier", "2")
    budget = Budget.objects.get(pk=cast.qlab_budget.pk)
    assert (budget.max_tier, budget.limit_micros) == (2, 100_000_000)
    assert "limit USD 100.00 monthly" in capsys.readouterr().out
    make_class("executive_demo")
    with pytest.raises(CommandError, match="a limit is required: optics has no budget for executive_demo yet"):
        call_command("set_budget", "optics", "executive_demo", "--max-tier", "1")
    assert not Budget.objects.filter(team=cast.optics, experiment_class__slug="executive_demo").exists()
