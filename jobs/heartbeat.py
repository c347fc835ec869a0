"""Heartbeats of running jobs: a worker that dies is noticed in about half a minute, not at its deadline.

A worker that claims a job writes its own label ("host:pid:start") into `Job.worker` and stamps
`Job.heartbeat_at`. From then on its cluster's pusher — a sibling process of the workers that loops
anyway, pulling tasks — refreshes `heartbeat_at` every JOB_HEARTBEAT_SECONDS for every running job whose
worker is one of the cluster's live processes (`jobs.reaper.ClusterClock`). The beat does not come from a thread in
the worker itself: qiskit-aer holds the GIL for a whole simulation, so such a thread would fall silent
for as long as the run lasts, and a long, healthy run would be taken from its worker.

The same pusher then returns running jobs whose heartbeat is older than JOB_HEARTBEAT_STALE_SECONDS to
the queue (`jobs.reaper.reap_dead`): their worker was killed, ran out of memory, or its whole host
went away. Every cluster does this, so one live cluster is enough to return another's jobs. The beat
only touches a job still running under that worker, and everything a worker does to a job it claimed
is conditional on the attempt it claimed, so a worker that was merely frozen and comes back after its
job was returned stores nothing.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from collections.abc import Collection
from datetime import datetime, timedelta

import psutil
from django.conf import settings
from django.utils import timezone

from jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)


def beat_seconds() -> float:
    """How often a cluster refreshes its running jobs' heartbeats and looks for stale ones."""
    return float(getattr(settings, "JOB_HEARTBEAT_SECONDS", 5.0))


def stale_after() -> timedelta:
    """A running job whose heartbeat is older than this has lost its worker."""
    return timedelta(seconds=float(getattr(settings, "JOB_HEARTBEAT_STALE_SECONDS", 30.0)))


def process_label(process: psutil.Process) -> str:
    """A process's label: its host, pid and start time (a pid alone is reused after the process ends)."""
    return f"{socket.gethostname()}:{process.pid}:{process.create_time():.2f}"


_LABELS: dict[int, str] = {}


def worker_label() -> str:
    """This process's label, as a claim writes it into `Job.worker` (computed once per process)."""
    pid = os.getpid()
    if pid not in _LABELS:  # keyed by pid: a forked worker computes its own, not its parent's
        _LABELS[pid] = process_label(psutil.Process(pid))
    return _LABELS[pid]


def cluster_workers() -> list[str]:
    """Labels of the live processes of this process's cluster: the children of its parent (django-q2's
    sentinel forks the workers, the monitor and this pusher)."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid != os.getppid():
        return []  # not forked by a cluster, or orphaned by its death: its workers are no longer ours
    labels = []
    try:
        siblings = psutil.Process(parent.pid).children()
    except psutil.Error:
        return []
    for process in siblings:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                labels.append(process_label(process))
        except psutil.Error:  # ended while we looked
            continue
    return labels


def beat(workers: Collection[str], now: datetime | None = None) -> int:
    """Refresh the heartbeat of every running job one of `workers` claimed; returns how many.

    Conditional on the job still being running under that worker: a job that was returned to the
    queue, claimed by another worker, or finished, is not touched."""
    if not workers:
        return 0
    now = now or timezone.now()
    # A job at a vendor (remote id) has no worker to lose: its poll chain carries it.
    running = Job.objects.filter(status=JobStatus.RUNNING, remote_id="", worker__in=list(workers))
    return running.update(heartbeat_at=now)
