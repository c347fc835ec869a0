"""Which worker cluster runs a job, and handing its tasks to the broker.

Routing (`cluster_for`): tier 3 → cluster ``hardware``; priority batch → ``batch``; everything else →
``interactive``. Delays (retry backoff, the next poll) are ORM-broker rows locked until the due time,
which no cluster pulls earlier; the reaper re-enqueues anything whose task went missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from budgets.models import HARDWARE_TIER
from jobs.models import Job, Priority
from jobs.task_rows import insert_task, insert_tasks

logger = logging.getLogger(__name__)

INTERACTIVE, BATCH, HARDWARE = "interactive", "batch", "hardware"
# The dotted paths django-q2 stores in its task rows: the entry points in `jobs.tasks`.
RUN_JOB = "jobs.tasks.run_job"
SUBMIT_HARDWARE_JOB = "jobs.tasks.submit_hardware_job"
POLL_HARDWARE_JOB = "jobs.tasks.poll_hardware_job"
JOB_TASKS = frozenset({RUN_JOB, SUBMIT_HARDWARE_JOB, POLL_HARDWARE_JOB})


def lost_after() -> timedelta:
    """A queued job with no pending task this long after its last change lost its enqueue."""
    return timedelta(seconds=float(getattr(settings, "JOB_LOST_ENQUEUE_SECONDS", 60.0)))


def cluster_for(job: Job) -> str:
    """The worker cluster that runs `job`: hardware by tier, then batch or interactive by priority."""
    if (job.tier or 0) >= HARDWARE_TIER:
        return HARDWARE
    if job.priority == Priority.BATCH:
        return BATCH
    return INTERACTIVE


class _EnqueueBroker(ORM):
    """The portal's broker as a web process or a task uses it to enqueue, optionally delayed.

    `run_at`: the row is written locked until then, and no cluster pulls it earlier. `lock` is the ORM
    broker's own "do not pull until" column (a cluster sets it to now + retry when it pulls a row), so
    the delay has the broker's durability: it survives restarts. A task due now also wakes the
    cluster's pusher (NOTIFY, delivered at commit); a delayed one is found by the pusher's poll.

    django-q2's ORM broker closes the process's database connection before every use outside a
    transaction — meant for the cluster's long-lived pusher; here Django's request/task cycle manages
    the connection.
    """

    def __init__(self, list_key: str, run_at: datetime | None = None) -> None:
        self.run_at = run_at
        super().__init__(list_key=list_key)

    @staticmethod
    def get_connection(list_key: str | None = None) -> Any:
        return OrmQ.objects.using(Conf.ORM)

    def enqueue(self, task: str) -> int:
        now = timezone.now()
        due = self.run_at is None or self.run_at <= now
        return insert_task(self.list_key, task, lock=self.run_at or now, wake=due)


class _BatchBroker(_EnqueueBroker):
    """Keeps the signed payloads `async_task` builds instead of writing them, so many tasks of one
    cluster go to the ORM broker in one INSERT (`enqueue_jobs`)."""

    def __init__(self, list_key: str) -> None:
        self.payloads: list[str] = []
        super().__init__(list_key)

    def enqueue(self, task: str) -> str:
        self.payloads.append(task)
        return f"(row {len(self.payloads)} of a batch)"


def task_enqueue(
    func: str, job_id: str, *, cluster: str, run_at: datetime | None = None, broker: _EnqueueBroker | None = None
) -> str | None:
    """Queue `func(job_id)` on `cluster`, not to run before `run_at` (through `broker`, when given)."""
    options: dict[str, Any] = {"cluster": cluster, "task_name": f"{func.rsplit('.', 1)[-1]}:{job_id}"}
    if func == RUN_JOB:
        # Its outcome is the job's; a stored django-q2 success would only duplicate it (failures of the
        # task itself, e.g. an import error, are still stored).
        options["save"] = False
    if Conf.ORM:
        options["broker"] = broker or _EnqueueBroker(cluster, run_at)
    elif run_at is not None and run_at > timezone.now():
        # Another broker has no delay: a one-off schedule (django-q2's scheduler wakes every 30 s).
        Schedule.objects.create(
            func=func,
            args=repr((job_id,)),
            schedule_type=Schedule.ONCE,
            next_run=run_at,
            repeats=-1,
            cluster=cluster,
            name=f"{options['task_name']}@{run_at.isoformat()}",
        )
        return None
    return async_task(func, job_id, **options)


def _execution_task(job: Job) -> tuple[str, str]:
    """The task that executes a queued job, and its cluster."""
    cluster = cluster_for(job)
    return (SUBMIT_HARDWARE_JOB if cluster == HARDWARE else RUN_JOB), cluster


def enqueue_job(job_id: object, *, run_at: datetime | None = None, job: Job | None = None) -> str | None:
    """Queue the execution task of a queued job on its cluster; returns the django-q2 task id.

    Call it in the transaction that makes the job queued. The ORM broker writes the task row in that
    transaction, so clusters see the task exactly when the queued job commits and a rollback takes
    both back (another broker is called after the commit). Safe to call more than once for the same
    job: the task claims the job, and a duplicate does nothing. `job`: the row, when already loaded.
    """
    if job is None:
        job = Job.objects.only("id", "tier", "priority").get(pk=job_id)
    func, cluster = _execution_task(job)
    if not tasks_in_jobs_database() and not transaction.get_autocommit():
        transaction.on_commit(lambda: task_enqueue(func, str(job.pk), cluster=cluster, run_at=run_at))
        return None
    return task_enqueue(func, str(job.pk), cluster=cluster, run_at=run_at)


def enqueue_jobs(jobs: Sequence[Job]) -> None:
    """`enqueue_job` for jobs that have just become queued together (a submission): the same task
    payloads, written in one INSERT per cluster (with one NOTIFY each on PostgreSQL) instead of one
    per job. Call it in the transaction that makes the jobs queued: the task rows commit and roll back
    with them. A broker other than the ORM one on this database is called after the commit."""
    if not tasks_in_jobs_database():
        for job in jobs:
            enqueue_job(job.pk, job=job)
        return
    brokers: dict[str, _BatchBroker] = {}
    for job in jobs:
        func, cluster = _execution_task(job)
        broker = brokers.setdefault(cluster, _BatchBroker(cluster))
        task_enqueue(func, str(job.pk), cluster=cluster, broker=broker)
    now = timezone.now()
    for cluster, broker in brokers.items():
        insert_tasks(cluster, broker.payloads, lock=now, wake=True)
        # DEBUG: every submission logs its jobs ("job submitted") and django-q2 each task; this line
        # would be a third on every job's path.
        logger.debug("enqueued %d tasks on %s", len(broker.payloads), cluster)


def tasks_in_jobs_database() -> bool:
    """Whether the ORM broker's task rows live in the jobs' database: a job's task can then be written
    in the job's transaction."""
    return Conf.ORM == DEFAULT_DB_ALIAS


def poll_enqueue(job_id: str, run_at: datetime) -> None:
    """Queue the next poll of a submitted hardware job, not before `run_at`."""
    task_enqueue(POLL_HARDWARE_JOB, job_id, cluster=HARDWARE, run_at=run_at)


def waiting_task_job_ids() -> set[str] | None:
    """Job ids with a run/submit/poll task waiting in the ORM broker for any live cluster to pull.

    Only rows no cluster has pulled count (`lock` in the past; the reaper asks only about jobs whose
    backoff has passed, so their delayed rows are due too). A row a cluster has pulled stays locked
    for `retry` even when that cluster died with it in memory, so such a job is enqueued again — at
    worst a duplicate, which its claim turns into a no-op. None when the broker is not the ORM (then
    nothing is known about pending tasks).
    """
    if not Conf.ORM:
        return None
    now = timezone.now()
    ids: set[str] = set()
    waiting = OrmQ.objects.using(Conf.ORM).filter(Q(lock__isnull=True) | Q(lock__lte=now))
    for row in waiting.only("payload").iterator():
        task = row.task
        if task.get("func") in JOB_TASKS and task.get("args"):
            ids.add(str(task["args"][0]))
    return ids
