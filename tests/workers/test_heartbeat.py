"""Heartbeats in this process: a job whose worker falls silent goes back to the queue, once, and a
worker that comes back after that stores nothing. Real clusters: tests/workers/test_worker_death.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from adapters import registry
from budgets.models import Hold, HoldStatus, LedgerEntry, LedgerKind
from budgets.services import hold_reserve
from jobs import execution, reaper, tasks
from jobs.heartbeat import beat, worker_label
from jobs.models import Job, JobEvent, JobStatus, Stage
from tests.workers.conftest import queued_job

pytestmark = pytest.mark.django_db

SILENT = timedelta(seconds=31)  # past the default JOB_HEARTBEAT_STALE_SECONDS


def held_job(cast: Any, **fields: Any) -> Job:
    job = queued_job(cast, **fields)
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=0)
    return job


def claimed(job: Job) -> tuple[Job, int, Any]:
    """A worker's claim of `job`: the row as it read it, the attempt it owns, and when it claimed."""
    row = execution.job_for_run(str(job.pk))
    now = timezone.now()
    attempt = execution.job_claim(row, now=now, deadline=now + timedelta(minutes=10))
    assert attempt is not None
    return row, attempt, now


def test_a_job_whose_worker_fell_silent_is_queued_again_saying_why(cast: Any) -> None:
    job = held_job(cast)
    _, _, now = claimed(job)

    assert reaper.reap_dead(now=now + timedelta(seconds=20))["requeued"] == 0  # a beat may still come
    assert reaper.reap_dead(now=now + SILENT)["requeued"] == 1

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and job.heartbeat_at is None
    returned = JobEvent.objects.get(job=job, actor_label="reaper")
    assert (returned.from_status, returned.to_status) == (JobStatus.RUNNING, JobStatus.QUEUED)
    assert "no heartbeat from its worker for 31 s" in returned.reason
    assert returned.data["worker"] == worker_label()
    assert tasks.run_job(str(job.pk)) == "succeeded"  # it was enqueued again


def test_a_beating_worker_keeps_its_job_long_after_the_stale_limit(cast: Any) -> None:
    kept, lost = held_job(cast), held_job(cast)
    claimed(kept)
    _, _, now = claimed(lost)
    Job.objects.filter(pk=lost.pk).update(worker="elsewhere:1:1.00")  # a worker on a host that went down
    later = now + timedelta(minutes=5)  # a long simulation, well inside the task time limit

    assert beat([worker_label()], now=later - timedelta(seconds=5)) == 1
    assert reaper.reap_dead(now=later)["ids"] == [lost.pk]

    assert Job.objects.get(pk=kept.pk).status == JobStatus.RUNNING
    assert Job.objects.get(pk=lost.pk).status == JobStatus.QUEUED


def test_a_worker_that_comes_back_after_its_job_was_returned_stores_nothing(cast: Any) -> None:
    job = held_job(cast)
    first, attempt, now = claimed(job)
    reaper.reap_dead(now=now + SILENT)  # the first worker was frozen, not dead

    assert tasks.run_job(str(job.pk)) == "succeeded"  # another worker ran it again
    result = registry.get_adapter(first.backend).run(execution.execution_request(first))
    stored = execution.result_store(first, attempt, result, cost_micros=0, started=now)

    assert stored is False
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and job.result_meta["attempt"] == 2
    assert JobEvent.objects.filter(job=job, stage=Stage.EXECUTE).count() == 1
    assert JobEvent.objects.filter(job=job, to_status=JobStatus.SUCCEEDED).count() == 1
    hold = Hold.objects.get(job=job)
    assert hold.status == HoldStatus.SETTLED
    assert LedgerEntry.objects.filter(hold=hold, kind=LedgerKind.SETTLE).count() == 1


def test_a_job_whose_worker_falls_silent_three_times_fails_saying_so(cast: Any) -> None:
    job = held_job(cast)
    outcomes = []
    for _ in range(3):
        _, _, now = claimed(job)
        outcomes.append(reaper.reap_dead(now=now + SILENT))
        job.refresh_from_db()

    assert [(o["requeued"], o["failed"]) for o in outcomes] == [(1, 0), (1, 0), (0, 1)]
    assert job.status == JobStatus.FAILED and job.error_code == "worker_died"
    assert job.error_message.startswith("worker died 3 times")
    assert "no heartbeat from its worker" in job.error_message
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED


@pytest.mark.django_db(transaction=True)
def test_every_cluster_reaping_at_once_returns_the_job_once(cast: Any) -> None:
    job = held_job(cast)
    _, _, now = claimed(job)

    def reap(_: int) -> int:
        try:
            return reaper.reap_dead(now=now + SILENT)["requeued"]
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        requeued = list(pool.map(reap, range(4)))

    assert sum(requeued) == 1
    assert JobEvent.objects.filter(job=job, actor_label="reaper").count() == 1
    assert [row.task["args"][0] for row in OrmQ.objects.all()] == [str(job.pk)]  # enqueued once
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
