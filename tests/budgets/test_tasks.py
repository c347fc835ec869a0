"""The periodic money sweep the workers run."""

from __future__ import annotations

import pydoc
from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from budgets.models import Budget, Hold, HoldStatus
from budgets.services import hold_reserve
from budgets.tasks import money_sweep
from jobs.tasks import ensure_schedules


def test_the_money_sweep_is_scheduled_once_on_a_cluster_serve_starts(db):
    # Call it directly: a transactional test elsewhere may have flushed the rows made after migrate.
    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name="budgets.money_sweep")
    assert schedule.repeats == -1 and schedule.minutes == 5
    assert schedule.cluster == "interactive"
    assert pydoc.locate(schedule.func) is money_sweep  # what django-q2 resolves the name to


def test_the_money_sweep_returns_leaked_money(cast, make_job):
    job = make_job(status="cancelled")
    hold = hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=3_000_000)
    Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert money_sweep() == {"holds_closed": 1, "periods_started": 0}
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.EXPIRED
    assert Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros == 0
