"""Workers racing for the same queued jobs on PostgreSQL: each job runs once, whoever wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from jobs import tasks
from jobs.models import Job, JobEvent, JobStatus, Stage
from tests.workers.conftest import queued_job

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between connections: PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

WORKERS = 4


def test_workers_delivered_the_same_jobs_at_once_run_each_job_once(cast: Any) -> None:
    jobs = [queued_job(cast, family="qft", params={"n_qubits": 8 + i}) for i in range(3)]
    barrier = threading.Barrier(WORKERS)

    def worker(_: int) -> list[str]:
        outcomes = []
        try:
            for job in jobs:  # every worker got every job's task: each waits for the others, then claims
                barrier.wait()
                outcomes.append(tasks.run_job(str(job.pk)))
        finally:
            connection.close()
        return outcomes

    with ThreadPoolExecutor(WORKERS) as pool:
        per_worker = list(pool.map(worker, range(WORKERS)))

    for i, job in enumerate(jobs):
        outcomes = sorted(outcomes[i] for outcomes in per_worker)
        assert outcomes.count("succeeded") == 1, outcomes
        assert all(o.startswith("skipped") for o in outcomes if o != "succeeded"), outcomes
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED and job.attempts == 1
        assert JobEvent.objects.filter(job=job, stage=Stage.EXECUTE).count() == 1
        moves = JobEvent.objects.filter(job=job, stage=Stage.LIFECYCLE, from_status=JobStatus.QUEUED)
        assert list(moves.values_list("to_status", flat=True)) == [JobStatus.RUNNING]
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 0
