"""Jobs run by real qcluster processes (PostgreSQL in CI, SQLite too): routing, volume, kill -9, hardware, `serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import Success

from adapters import registry
from adapters.base import RemoteState
from adapters.ibm import queue_delay_seconds
from budgets.models import Hold, HoldStatus
from budgets.services import hold_reserve
from jobs import reaper, tasks
from jobs.models import Job, JobEvent, JobStatus, Stage
from jobs.services import job_submit, job_submit_batch
from tests.workers.conftest import ROOT, all_terminal, queued_job, wait_for, worker_database_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAMILIES = [
    ("ghz", lambda i: {"n_qubits": 2 + i % 6}),
    ("bell", lambda i: {"state": ["phi+", "phi-", "psi+", "psi-"][i % 4]}),
    ("bernstein_vazirani", lambda i: {"secret": format(i + 1, "05b")}),
    ("qft", lambda i: {"n_qubits": 3 + i % 5}),
    ("grover", lambda i: {"n_qubits": 3, "marked": format(i % 8, "03b")}),
]


BELL = {"family": "bell", "params": {}, "shots": 200, "no_cache": True}


def execute_events(job_id: Any) -> int:
    return JobEvent.objects.filter(job_id=job_id, stage=Stage.EXECUTE).count()


def test_fifty_mixed_jobs_all_finish_on_the_cluster_for_their_priority(cast: Any, start_cluster: Any) -> None:
    clusters = (start_cluster("interactive"), start_cluster("batch"))
    job_ids, expected_cluster = [], {}
    for i in range(50):
        family, params = FAMILIES[i % len(FAMILIES)]
        priority = "batch" if i % 3 == 0 else "interactive"
        request = {
            "experiment": cast.qlab_experiment.pk,
            "family": family,
            "params": params(i),
            "shots": 300 + i,
            "priority": priority,
            "no_cache": True,
        }
        job = job_submit(user=cast.alice, request=request).job  # enqueued on commit
        job_ids.append(job.pk)
        expected_cluster[job.pk] = priority

    wait_for(all_terminal(job_ids), timeout=90, what="50 jobs to finish", clusters=clusters)

    for job in Job.objects.filter(pk__in=job_ids):
        assert job.status == JobStatus.SUCCEEDED, (job.family, job.error_message)
        assert sum(job.counts.values()) == job.shots
        assert job.result_meta["cluster"] == expected_cluster[job.pk]
        assert execute_events(job.pk) == 1
        if job.family in {"ghz", "bell", "bernstein_vazirani"}:
            assert job.metrics["hellinger_fidelity"] > 0.95
    # The job row is the record: django-q2 keeps no duplicate success per job task.
    assert not Success.objects.filter(func="jobs.tasks.run_job").exists()


def test_a_batch_of_twenty_jobs_all_finish_on_the_clusters(cast: Any, start_cluster: Any) -> None:
    clusters = (start_cluster("interactive"), start_cluster("batch"))
    requests = []
    for i in range(20):
        family, params = FAMILIES[i % len(FAMILIES)]
        requests.append(
            {
                "experiment": cast.qlab_experiment.pk,
                "family": family,
                "params": params(i),
                "shots": 200 + i,
                "priority": "batch" if i % 4 == 0 else "interactive",
                "no_cache": True,
            }
        )
    jobs = job_submit_batch(user=cast.alice, requests=requests).jobs  # the tasks commit with the jobs

    wait_for(all_terminal([j.pk for j in jobs]), timeout=90, what="20 batch jobs to finish", clusters=clusters)

    for job, request in zip(jobs, requests, strict=True):
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, (job.family, job.error_message)
        assert sum(job.counts.values()) == job.shots == request["shots"]
        assert job.result_meta["cluster"] == request["priority"]
        assert execute_events(job.pk) == 1
        assert Hold.objects.get(job=job).status == HoldStatus.SETTLED


@pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's")
def test_an_idle_cluster_wakes_when_a_task_commits_instead_of_waiting_for_its_poll(
    cast: Any, start_cluster: Any
) -> None:
    cluster = start_cluster("interactive", Q_POLL="120")  # a poll alone would find the task minutes late
    time.sleep(2)  # the pusher has looked once, found nothing, and now waits
    job = job_submit(user=cast.alice, request={**BELL, "experiment": cast.qlab_experiment.pk}).job

    wait_for(all_terminal([job.pk]), timeout=40, what="the job on an idle cluster", clusters=(cluster,))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and sum(job.counts.values()) == job.shots


def test_kill_9_mid_run_leaves_every_job_in_exactly_one_terminal_state(cast: Any, start_cluster: Any) -> None:
    first = start_cluster("interactive")
    # Aer at 18 qubits: long enough per job that the kill lands while jobs run.
    job_ids = [
        queued_job(cast, family="qft", params={"n_qubits": 18}, backend="aer", shots=200 + i).pk for i in range(16)
    ]
    for job_id in job_ids:
        tasks.enqueue_job(job_id)
    wait_for(
        lambda: (
            Job.objects.filter(pk__in=job_ids, status=JobStatus.SUCCEEDED).exists()
            and Job.objects.filter(pk__in=job_ids, status=JobStatus.RUNNING).exists()
        ),
        timeout=60,
        what="some jobs done and some running",
        clusters=(first,),
    )
    first.kill()
    orphans = list(Job.objects.filter(pk__in=job_ids, status=JobStatus.RUNNING).values_list("pk", flat=True))
    assert orphans  # the kill hit jobs mid-run

    # What the scheduled reaper does once their deadline (task timeout + margin) has passed. It runs
    # before the new cluster starts: jobs that cluster claims would look overdue at now + 1 h too.
    reaped = reaper.reap_jobs(now=timezone.now() + timedelta(hours=1))
    assert reaped["requeued"] == len(orphans)
    second = start_cluster("interactive")
    wait_for(all_terminal(job_ids), timeout=120, what="every job to finish", clusters=(second,))

    for job in Job.objects.filter(pk__in=job_ids):
        assert job.status == JobStatus.SUCCEEDED
        assert sum(job.counts.values()) == job.shots
        assert execute_events(job.pk) == 1  # no job's result was produced twice
        finished = JobEvent.objects.filter(job=job, to_status__in=["succeeded", "failed", "cancelled"])
        assert finished.count() == 1
    for job_id in orphans:
        assert Job.objects.get(pk=job_id).attempts == 2
        assert JobEvent.objects.filter(job_id=job_id, actor_label="reaper", to_status="queued").count() == 1


def test_a_hardware_job_is_polled_without_blocking_and_resumed_by_a_new_worker(cast: Any, start_cluster: Any) -> None:
    env = {"EMULATED_QUEUE_SECONDS": "2", "HARDWARE_POLL_SECONDS": "0.3"}
    # A job id whose emulated vendor queue is long enough to watch (the wait is seeded by the job id).
    job_id = next(i for i in iter(uuid.uuid4, None) if 2.5 < queue_delay_seconds(str(i), 2.0) < 5)
    first = start_cluster("hardware", **env)
    job = queued_job(cast, id=job_id, family="ghz", params={"n_qubits": 3}, tier=3, backend="ibm:fake_manila")
    tasks.enqueue_job(job.pk)

    wait_for(lambda: Job.objects.filter(pk=job.pk).exclude(remote_id="").exists(), timeout=60, what="submission")
    remote_id = Job.objects.get(pk=job.pk).remote_id
    wait_for(
        lambda: "vendor" in Job.objects.get(pk=job.pk).result_meta, timeout=30, what="a queue report", clusters=(first,)
    )
    vendor = Job.objects.get(pk=job.pk).result_meta["vendor"]
    assert vendor["state"] == "queued" and vendor["queue_position"] >= 1 and vendor["eta_seconds"] > 0
    first.kill()  # the worker dies while the vendor still holds the job

    second = start_cluster("hardware", **env)
    tasks.poll_hardware_jobs(now=timezone.now() + timedelta(minutes=1))  # the minute sweeper, now
    assert tasks.submit_hardware_job(str(job.pk)) == "already submitted; polling"  # a duplicate submit task
    wait_for(all_terminal([job.pk]), timeout=60, what="the hardware job to finish", clusters=(second,))

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.remote_id == remote_id  # resumed by remote id, never submitted again
    assert job.emulated and job.result_meta["emulated"] is True
    assert sum(job.counts.values()) == job.shots
    assert job.calibration and job.cost_micros > 0
    assert execute_events(job.pk) == 1
    submit = Success.objects.get(func="jobs.tasks.submit_hardware_job", cluster="hardware")
    assert submit.stopped < job.finished_at - timedelta(seconds=2)  # the submit task did not wait for the vendor


def test_a_hardware_cluster_gives_up_on_a_job_stuck_in_the_vendor_queue(cast: Any, start_cluster: Any) -> None:
    env = {"EMULATED_QUEUE_SECONDS": "86400", "HARDWARE_POLL_SECONDS": "0.3", "HARDWARE_MAX_WAIT_SECONDS": "3"}
    # A job id whose emulated vendor queue wait is hours (seeded by the job id).
    job_id = next(i for i in iter(uuid.uuid4, None) if queue_delay_seconds(str(i), 86400) > 3600)
    cluster = start_cluster("hardware", **env)
    job = queued_job(cast, id=job_id, family="ghz", params={"n_qubits": 3}, tier=3, backend="ibm:fake_manila")
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=2_000_000)
    tasks.enqueue_job(job.pk)

    wait_for(all_terminal([job.pk]), timeout=60, what="the wait limit to end the job", clusters=(cluster,))

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "hardware_wait_limit", job.error_message
    assert "HARDWARE_MAX_WAIT_SECONDS = 3 s" in job.error_message
    assert job.result_meta["vendor"]["state"] == "queued"  # it was polled while it waited
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED
    assert JobEvent.objects.filter(job=job, to_status=JobStatus.FAILED, actor_label="worker").count() == 1
    # The worker asks the vendor to cancel just after it commits the failure the wait above saw.
    vendor = registry.get_adapter(job.backend)

    def cancelled() -> bool:
        return vendor.poll(job.remote_id).state is RemoteState.CANCELLED

    wait_for(cancelled, timeout=10, what="the vendor cancel", clusters=(cluster,))
    assert vendor.poll(job.remote_id).state is RemoteState.CANCELLED


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_clusters_that_each_run_their_own_jobs(cast: Any, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **worker_database_env(),
        "SERVE_TEST_TAG": uuid.uuid4().hex,
        "SECRET_KEY": settings.SECRET_KEY,
        "HYBRIDPORTAL_VAR_DIR": str(settings.VAR_DIR),
        "HYBRIDPORTAL_ENV": "test",
        "EMULATED_QUEUE_SECONDS": "0.2",
        "HARDWARE_POLL_SECONDS": "0.3",
        "QSIM_THREADS": "1",
        "Q_LOG_LEVEL": "INFO",  # django-q2 says when a cluster has stopped
    }
    jobs = {
        "interactive": queued_job(cast, priority="interactive"),
        "batch": queued_job(cast, priority="batch"),
        "hardware": queued_job(cast, tier=3, backend="ibm:fake_manila", params={"n_qubits": 3}),
    }
    for job in jobs.values():
        tasks.enqueue_job(job.pk)
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(_free_port()), "--web-workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.err").open("wb"),  # a file: its children write to it too
        start_new_session=True,
    )
    try:
        wait_for(all_terminal([j.pk for j in jobs.values()]), timeout=90, what="serve's clusters to run the jobs")
    finally:
        serve.send_signal(signal.SIGTERM)  # serve stops its web server and clusters itself
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            raise
    # Each child stopped on its own — every cluster master shut down cleanly; none had to be killed.
    errors = (tmp_path / "serve.err").read_text(errors="replace")
    assert "did not stop" not in errors and errors.count("has stopped.") == len(jobs), errors[-3000:]

    for cluster, job in jobs.items():
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error_message
        assert job.result_meta["cluster"] == cluster
    assert _processes_tagged(env["SERVE_TEST_TAG"]) == []  # SIGTERM stopped everything serve started


def _processes_tagged(tag: str) -> list[str]:
    """Command lines of live processes started with this SERVE_TEST_TAG in their environment."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get("SERVE_TEST_TAG") == tag:
                found.append(" ".join(proc.info["cmdline"] or []))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
