"""Fixtures for benchmark tests: a finished run on real simulators, with an emulated IBM device
that waits for sign-off like any hardware job."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from benchmarks.models import BenchmarkRun
from benchmarks.services import benchmark_run_start
from jobs.models import JobStatus
from jobs.tasks import run_job


def run_queued_inline(run: BenchmarkRun) -> None:
    """What `run_suite --inline` does: execute the run's queued simulator jobs in this process."""
    for trial in run.trials.select_related("job").filter(job__status=JobStatus.QUEUED, job__tier__lt=3):
        run_job(str(trial.job_id))


@pytest.fixture
def ghz_run(cast: Any) -> BenchmarkRun:
    """ghz-ladder on qsim, cirq and ibm:fake_manila (emulated, tier 3): 2 trials × 300 shots.
    The simulator trials ran; the IBM ones await approval; GHZ(8) is too wide for fake_manila."""
    run = benchmark_run_start(
        user=cast.alice,
        suite="ghz-ladder",
        experiment_id=cast.qlab_experiment.pk,
        backends=["qsim", "cirq", "ibm:fake_manila"],
        trials=2,
        shots=300,
        seed=3,
    )
    run_queued_inline(run)
    return run


@pytest.fixture(autouse=True)
def private_cache(settings) -> None:  # noqa: ANN001
    """The API's rate limiter needs a cache; the database cache table is not in test databases."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench"}}
    settings.API_RATE_LIMIT = "10000/min"
    cache.clear()
