"""Real django-q2 clusters for worker tests: `qcluster` subprocesses on the test database.

A cluster runs `manage.py qcluster` with Q_CLUSTER_NAME set, against the database this test process
uses (its name is the *test* database's), with the same SECRET_KEY (django-q2 signs payloads with it)
and var dir. Each cluster gets its own process group so teardown can kill the parent and its forked
workers together.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.models import TERMINAL_STATUSES, Job, JobStatus

ROOT = Path(settings.BASE_DIR)


def worker_database_env() -> dict[str, str]:
    """Environment that points a subprocess at this test process's database (PostgreSQL or the
    SQLite test file, keeping the SQLite WAL and locking settings)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"DATABASE_URL": "", "HYBRIDPORTAL_SQLITE_PATH": str(s["NAME"])}
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"}


@dataclass
class Cluster:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole cluster: parent, monitor, pusher and every worker (kill -9, OOM)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_cluster(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Start a named qcluster on the test database; every cluster started is killed at teardown."""
    clusters: list[Cluster] = []

    def start(name: str, *, wait: bool = True, **env: str) -> Cluster:
        log = tmp_path / f"qcluster-{name}-{len(clusters)}.log"
        full_env = {
            **os.environ,
            **worker_database_env(),
            "SECRET_KEY": settings.SECRET_KEY,
            "HYBRIDPORTAL_VAR_DIR": str(settings.VAR_DIR),
            "HYBRIDPORTAL_ENV": "test",
            "Q_CLUSTER_NAME": name,
            "Q_LOG_LEVEL": "INFO",
            "QSIM_THREADS": "1",
            **env,
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cluster = Cluster(name, proc, log)
        clusters.append(cluster)
        if wait:
            deadline = time.monotonic() + 60
            while "running" not in cluster.output():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"cluster {name} did not start:\n{cluster.output()[-3000:]}")
                time.sleep(0.1)
        return cluster

    yield start
    for cluster in clusters:
        cluster.kill()


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str, clusters: tuple[Cluster, ...] = ()) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {c.name}\n{c.output()[-3000:]}" for c in clusters)
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(0.2)


def all_terminal(job_ids: list[Any]) -> Callable[[], bool]:
    def check() -> bool:
        return not Job.objects.filter(pk__in=job_ids).exclude(status__in=TERMINAL_STATUSES).exists()

    return check


def queued_job(cast: Any, *, family: str = "ghz", params: dict[str, Any] | None = None, **fields: Any) -> Job:
    """A job as the submit service leaves it for the workers: queued, circuit assembled, backend chosen."""
    fam = importlib.import_module(f"jobs.families.{family}").FAMILY
    params = params if params is not None else dict(fam.example)
    circuit = fam.build(fam.parse(params))
    defaults: dict[str, Any] = {
        "team": cast.qlab,
        "experiment": cast.qlab_experiment,
        "experiment_class": cast.klass,
        "submitted_by": cast.alice,
        "family": family,
        "family_version": fam.version,
        "params": params,
        "shots": 500,
        "backend": "qsim",
        "tier": 0,
        "status": JobStatus.QUEUED,
        "circuit": circuit.to_json(),
        "n_qubits": circuit.n_qubits,
        "seed": 1234,
        "queued_at": timezone.now(),
    }
    return Job.objects.create(**{**defaults, **fields})
