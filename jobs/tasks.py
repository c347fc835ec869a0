"""Worker tasks (django-q2): the entry points its clusters call by dotted path.

django-q2 stores each task's and schedule's function path ("jobs.tasks.run_job") in its rows, so these
names stay here; the work is in `jobs.queueing` (routing and enqueueing), `jobs.execution` (claim,
run, store a simulator job) and `jobs.hardware` (submit, poll, give up).

Every task takes one job id (a string) and reads everything else from the database: payloads are
pickled and signed with SECRET_KEY, and a row is the source of truth, not a task argument.

Delivery is at-least-once (ORM broker): a task can arrive twice (a worker killed after it finished
but before the ack, `retry` elapsing on a long queue wait), or never finish (kill -9, OOM, timeout).
So each task is safe to run twice:

- a job is claimed with a conditional UPDATE (queued → running, attempts + 1); a duplicate finds it
  running or terminal and does nothing.
- It finishes under a row lock, and only if the job is still running *this* attempt: a job that was
  cancelled meanwhile, or reaped and claimed again by another worker, keeps nothing from this run.
- A worker that dies stops its job's heartbeat (`jobs.heartbeat`: its cluster refreshes it while the
  worker process lives); every cluster's reaper (`jobs.reaper`) puts a job whose heartbeat is stale
  back in the queue, or fails it after JOB_MAX_ATTEMPTS. Its `deadline` (the cluster's `timeout` plus
  a margin — django-q2 kills a task at `timeout`) remains the backstop for a job without heartbeats.
- Hardware (tier 3) never blocks a worker on a vendor queue (`jobs.hardware`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django_q.models import Schedule

from budgets.tasks import SWEEP_MINUTES
from jobs import execution, hardware
from jobs.execution import REAPER, WORKER, max_attempts
from jobs.queueing import (
    BATCH,
    HARDWARE,
    INTERACTIVE,
    JOB_TASKS,
    POLL_HARDWARE_JOB,
    RUN_JOB,
    SUBMIT_HARDWARE_JOB,
    cluster_for,
    enqueue_job,
    enqueue_jobs,
    tasks_in_jobs_database,
)

__all__ = [
    "BATCH",
    "HARDWARE",
    "INTERACTIVE",
    "JOB_TASKS",
    "POLL_HARDWARE_JOB",
    "REAPER",
    "RUN_JOB",
    "SCHEDULES",
    "SUBMIT_HARDWARE_JOB",
    "WORKER",
    "cluster_for",
    "enqueue_job",
    "enqueue_jobs",
    "ensure_schedules",
    "max_attempts",
    "poll_hardware_job",
    "poll_hardware_jobs",
    "run_job",
    "submit_hardware_job",
    "tasks_in_jobs_database",
]


def run_job(job_id: str) -> str:
    """Execute a queued simulator job (tiers 0–2) and store its outcome; returns a short word for
    django-q2's result record."""
    return execution.simulator_job_run(job_id)


def submit_hardware_job(job_id: str) -> str:
    """Claim a queued hardware job and submit it to the vendor without waiting for its queue."""
    return hardware.hardware_job_submit(job_id)


def poll_hardware_job(job_id: str) -> str:
    """Poll one submitted hardware job by its remote id; store the result when the vendor is done."""
    return hardware.hardware_job_poll(job_id)


def poll_hardware_jobs(now: datetime | None = None) -> int:
    """Sweeper (scheduled on the hardware cluster): revive the poll chain of every running remote job
    whose next poll is overdue. Returns how many."""
    return hardware.overdue_polls_revive(now)


# --- schedules ------------------------------------------------------------------------------------
SCHEDULES: tuple[dict[str, Any], ...] = (
    # django-q2's scheduler wakes every 30 s and its finest interval is one minute. A schedule must
    # name its cluster: one without runs only on the default cluster, which `serve` does not start.
    {"name": "jobs.reap_jobs", "func": "jobs.reaper.reap_jobs", "cluster": INTERACTIVE, "minutes": 1},
    {"name": "jobs.poll_hardware_jobs", "func": "jobs.tasks.poll_hardware_jobs", "cluster": HARDWARE, "minutes": 1},
    {
        "name": "budgets.money_sweep",
        "func": "budgets.tasks.money_sweep",
        "cluster": INTERACTIVE,
        "minutes": SWEEP_MINUTES,
    },
)


def ensure_schedules(using: str = "default") -> None:
    """Create or repair the periodic schedules; idempotent (run after every migrate)."""
    for spec in SCHEDULES:
        Schedule.objects.using(using).update_or_create(
            name=spec["name"],
            defaults={
                "func": spec["func"],
                "cluster": spec["cluster"],
                "schedule_type": Schedule.MINUTES,
                "minutes": spec["minutes"],
                "repeats": -1,
            },
        )
