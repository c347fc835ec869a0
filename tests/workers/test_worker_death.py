"""Real qcluster processes that die or freeze mid-job, and `serve` keeping the portal up when a cluster dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.conf import settings

from budgets.models import Hold, HoldStatus, LedgerEntry, LedgerKind
from budgets.services import hold_reserve
from jobs import tasks
from jobs.models import Job, JobEvent, JobStatus, Stage
from jobs.services import job_submit
from tests.workers.conftest import ROOT, Cluster, all_terminal, queued_job, wait_for, worker_database_env
from tests.workers.test_clusters import _free_port, _processes_tagged

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def slow_job(cast: Any, n_qubits: int = 20) -> Job:
    """An Aer statevector QFT: seconds of simulation, long enough for a kill to land mid-run."""
    job = queued_job(cast, family="qft", params={"n_qubits": n_qubits}, backend="aer", shots=200)
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=0)
    tasks.enqueue_job(job.pk)
    return job


def running(job: Job, attempt: int) -> Any:
    return lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=attempt).exists()


def owner(job: Job, clusters: tuple[Cluster, ...]) -> Cluster:
    """The cluster whose worker runs `job` now (`Job.worker` is "host:pid:start")."""
    pid = int(Job.objects.get(pk=job.pk).worker.split(":")[1])
    for cluster in (c for c in clusters if c.proc.poll() is None):
        if pid in {p.pid for p in psutil.Process(cluster.proc.pid).children(recursive=True)}:
            return cluster
    raise AssertionError(f"no cluster runs worker {pid}")


def assert_finished_once(job: Job, attempt: int) -> None:
    """One result from `attempt`, one settlement, and the reaper's return in the job's events."""
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == attempt and job.result_meta["attempt"] == attempt
    assert sum(job.counts.values()) == job.shots
    assert JobEvent.objects.filter(job=job, stage=Stage.EXECUTE).count() == 1
    assert JobEvent.objects.filter(job=job, to_status=JobStatus.SUCCEEDED).count() == 1
    returned = JobEvent.objects.get(job=job, actor_label="reaper")
    assert (returned.from_status, returned.to_status) == (JobStatus.RUNNING, JobStatus.QUEUED)
    assert "no heartbeat from its worker" in returned.reason
    hold = Hold.objects.get(job=job)
    assert hold.status == HoldStatus.SETTLED
    assert LedgerEntry.objects.filter(hold=hold, kind=LedgerKind.SETTLE).count() == 1


def test_a_job_of_a_cluster_killed_mid_run_runs_on_another_cluster_within_a_minute(
    cast: Any, start_cluster: Any
) -> None:
    clusters = (start_cluster("interactive"), start_cluster("interactive"))  # default heartbeat settings
    job = slow_job(cast)
    wait_for(running(job, 1), timeout=60, what="the job to start", clusters=clusters)
    first = owner(job, clusters)
    (second,) = (c for c in clusters if c is not first)

    first.kill()  # kill -9 of the whole cluster, mid-simulation
    killed = time.monotonic()
    wait_for(running(job, 2), timeout=90, what="the job to run again", clusters=clusters)
    elapsed = time.monotonic() - killed

    assert elapsed < 60, f"the job ran again {elapsed:.0f} s after its cluster was killed"
    assert owner(job, clusters) is second
    wait_for(all_terminal([job.pk]), timeout=120, what="the job to finish", clusters=(second,))
    assert_finished_once(job, attempt=2)


# A short stale limit: these tests watch several limits pass during one simulation.
FAST_BEAT = {"JOB_HEARTBEAT_SECONDS": "0.5", "JOB_HEARTBEAT_STALE_SECONDS": "2"}


def test_a_long_simulation_keeps_its_worker_while_the_worker_lives(cast: Any, start_cluster: Any) -> None:
    cluster = start_cluster("interactive", **FAST_BEAT)
    job = slow_job(cast, n_qubits=24)  # several stale limits long even on an idle machine

    wait_for(all_terminal([job.pk]), timeout=180, what="the simulation to finish", clusters=(cluster,))

    job.refresh_from_db()
    # Aer holds the GIL for its whole run; the job kept its worker for several stale limits all the same.
    assert job.result_meta["execute_seconds"] > 2 * float(FAST_BEAT["JOB_HEARTBEAT_STALE_SECONDS"])
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1, job.error_message
    assert not JobEvent.objects.filter(job=job, actor_label="reaper").exists()


def test_a_frozen_cluster_that_wakes_after_its_job_ran_elsewhere_stores_nothing(cast: Any, start_cluster: Any) -> None:
    clusters = (start_cluster("interactive", **FAST_BEAT), start_cluster("interactive", **FAST_BEAT))
    job = slow_job(cast)
    wait_for(running(job, 1), timeout=60, what="the job to start", clusters=clusters)
    first = owner(job, clusters)
    (second,) = (c for c in clusters if c is not first)

    os.killpg(first.proc.pid, signal.SIGSTOP)  # frozen mid-run (a paused VM, a stalled host)
    try:
        wait_for(all_terminal([job.pk]), timeout=120, what="the other cluster to finish it", clusters=(second,))
    finally:
        os.killpg(first.proc.pid, signal.SIGCONT)
    # The first worker finishes its simulation and tries to store it: its conditional update loses.
    wait_for(lambda: "discarded its result" in first.output(), timeout=120, what="the first run", clusters=(first,))

    assert_finished_once(job, attempt=2)


def test_serve_restarts_a_killed_cluster_and_keeps_the_portal_up(cast: Any, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        **worker_database_env(),
        "SERVE_TEST_TAG": uuid.uuid4().hex,
        "SECRET_KEY": settings.SECRET_KEY,
        "HYBRIDPORTAL_VAR_DIR": str(settings.VAR_DIR),
        "HYBRIDPORTAL_ENV": "test",
        "QSIM_THREADS": "1",
        "Q_LOG_LEVEL": "INFO",
    }
    errors = tmp_path / "serve.err"
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--web-workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors.open("wb"),
        start_new_session=True,
    )

    def interactive() -> list[int]:
        """Pids of serve's interactive cluster masters that are alive."""
        found = []
        for child in psutil.Process(serve.pid).children():
            try:
                if child.environ().get("Q_CLUSTER_NAME") == "interactive" and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child.pid)
            except psutil.Error:
                continue
        return found

    def web_answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(lambda: web_answers() and len(interactive()) == 1, timeout=90, what="serve to start")
        (killed,) = interactive()

        os.kill(killed, signal.SIGKILL)  # kill -9 of the interactive cluster's master

        wait_for(lambda: interactive() not in ([], [killed]), timeout=60, what="a new interactive cluster")
        assert web_answers()  # the web server never went down
        job = job_submit(
            user=cast.alice,
            request={
                "experiment": cast.qlab_experiment.pk,
                "family": "bell",
                "params": {},
                "shots": 200,
                "no_cache": True,
            },
        ).job
        wait_for(all_terminal([job.pk]), timeout=90, what="a job submitted after the restart")
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED and job.result_meta["cluster"] == "interactive", job.error_message
        assert serve.poll() is None
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            raise
    log = errors.read_text(errors="replace")
    assert "qcluster:interactive exited with -9; restarting it in 1 s" in log, log[-3000:]
    assert "did not stop" not in log, log[-3000:]
    assert _processes_tagged(env["SERVE_TEST_TAG"]) == []  # SIGTERM stopped everything, the new cluster too
