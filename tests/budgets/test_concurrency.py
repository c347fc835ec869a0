"""Many submitters at once against one budget: the database decides, nobody overspends.

Runs on PostgreSQL only: SQLite serialises every writer on one file lock, so it cannot show that the
conditional UPDATE re-checks the limit against a row another transaction just committed.
"""

from __future__ import annotations

import queue
import threading

import pytest
from django.db import connection, connections

from budgets.errors import BudgetExceeded
from budgets.models import Budget, Hold, HoldStatus, LedgerEntry, LedgerKind
from budgets.services import budget_set, hold_release, hold_reserve, hold_settle
from tests.budgets.conftest import new_job

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): SQLite serialises writers, so it proves nothing about races",
    ),
]

COST = 250_000  # USD 0.25 per job
JOBS = 100
AFFORDABLE = 40
THREADS = 10  # each holds its own connection; the server is shared with other test runs


def test_hundred_concurrent_reservations_never_overspend_and_all_settle(cast):
    budget = budget_set(team=cast.qlab, experiment_class=cast.klass, limit_micros=COST * AFFORDABLE)
    jobs = [new_job(cast) for _ in range(JOBS)]
    todo = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    start = threading.Barrier(THREADS)
    outcomes: list[Hold | BudgetExceeded] = []

    def submitter() -> None:
        try:
            start.wait(timeout=30)  # every thread is ready before the first reservation
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcomes.append(hold_reserve(job=job, budget=budget, amount_micros=COST))
                except BudgetExceeded as exc:
                    outcomes.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=submitter) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == JOBS

    holds = [o for o in outcomes if isinstance(o, Hold)]
    refusals = [o for o in outcomes if isinstance(o, BudgetExceeded)]
    assert len(holds) == AFFORDABLE
    assert len(refusals) == JOBS - AFFORDABLE
    assert all("USD 0.00 left" in r.message and "needs USD 0.25" in r.message for r in refusals)
    budget.refresh_from_db()
    assert budget.reserved_micros == COST * AFFORDABLE
    assert budget.spent_micros + budget.reserved_micros <= budget.limit_micros
    assert LedgerEntry.objects.filter(budget=budget, kind=LedgerKind.RESERVE).count() == AFFORDABLE

    # Half succeed (cheaper than estimated), half fail; then nothing is left pending.
    for i, hold in enumerate(holds):
        if i % 2:
            hold_settle(job=hold.job, actual_micros=COST // 2)
        else:
            hold_release(job=hold.job, reason="failed")
    assert not Hold.objects.filter(status=HoldStatus.PENDING).exists()
    budget.refresh_from_db()
    assert budget.reserved_micros == 0
    assert budget.spent_micros == AFFORDABLE // 2 * (COST // 2)


def test_a_settlement_delivered_to_many_workers_at_once_charges_once(cast):
    """At-least-once delivery: the same 'job finished' task may run on several workers together."""
    job = new_job(cast)
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=COST)
    start = threading.Barrier(THREADS)
    results: list[object] = []

    def worker(i: int) -> None:
        try:
            start.wait(timeout=30)
            if i % 2:
                results.append(hold_settle(job=job, actual_micros=COST))
            else:
                results.append(hold_release(job=job, reason="duplicate failure report"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == THREADS
    assert sum(r is not None for r in results) == 1  # exactly one worker closed the hold
    budget = Budget.objects.get(pk=cast.qlab_budget.pk)
    assert budget.reserved_micros == 0
    assert budget.spent_micros in (0, COST)
    assert LedgerEntry.objects.filter(hold__job=job).exclude(kind=LedgerKind.RESERVE).count() == 1
