"""A hundred researchers press "submit" at once against a budget that pays for forty.

End to end through `job_submit` (validate → policy → hold → queue), on PostgreSQL: each thread has its
own connection, so the conditional UPDATE on the budget row is what decides, not Python.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from budgets.errors import BudgetExceeded
from budgets.models import Budget, Hold, HoldStatus
from budgets.money import to_micros
from jobs.models import Job, JobStatus
from jobs.services import job_submit
from jobs.tasks import run_job
from tests.jobs.orch_support import enqueued_job_ids, ghz, price

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]

SUBMISSIONS = 100
AFFORDABLE = 40
THREADS = 50  # each holds its own connection; PostgreSQL's default limit is 100


def test_hundred_parallel_submissions_accept_exactly_what_the_budget_covers(cast):
    price("qsim", "0.25")  # an admin prices the simulator at USD 0.25 per run
    Budget.objects.filter(pk=cast.qlab_budget.pk).update(
        limit_micros=to_micros("0.25") * AFFORDABLE, approval_threshold_micros=to_micros("1.00")
    )
    # Pinned to the priced simulator: left alone, the policy would pick a free one.
    requests = [ghz(cast.qlab_experiment, shots=100 + i, no_cache=True, backend="qsim") for i in range(SUBMISSIONS)]
    start = threading.Barrier(THREADS)
    accepted: list[str] = []
    refused: list[BudgetExceeded] = []
    lock = threading.Lock()

    def researcher(batch: list[dict]) -> None:
        try:
            start.wait(timeout=60)
            for request in batch:
                try:
                    job = job_submit(user=cast.alice, request=request).job
                    with lock:
                        accepted.append(str(job.pk))
                except BudgetExceeded as exc:
                    with lock:
                        refused.append(exc)
        finally:
            connections.close_all()

    per_thread = SUBMISSIONS // THREADS
    threads = [
        threading.Thread(target=researcher, args=(requests[i * per_thread : (i + 1) * per_thread],))
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert len(accepted) == AFFORDABLE
    assert len(refused) == SUBMISSIONS - AFFORDABLE
    assert all("left" in r.message and "needs USD 0.25" in r.message for r in refused)
    budget = Budget.objects.get(pk=cast.qlab_budget.pk)
    assert budget.spent_micros + budget.reserved_micros <= budget.limit_micros
    # A refused submission leaves nothing behind: no job, no hold, no queue entry.
    assert Job.objects.count() == AFFORDABLE
    assert Hold.objects.count() == AFFORDABLE
    assert sorted(enqueued_job_ids()) == sorted(accepted)

    for job_id in accepted:  # what the workers do
        run_job(job_id)
    assert Job.objects.filter(status=JobStatus.SUCCEEDED).count() == AFFORDABLE
    assert not Hold.objects.filter(status=HoldStatus.PENDING).exists()
    budget.refresh_from_db()
    assert (budget.reserved_micros, budget.spent_micros) == (0, budget.limit_micros)
