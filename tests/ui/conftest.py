"""Fixtures for the web UI's view tests: signed-in clients for the demo cast and jobs in known states."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import JobStatus
from jobs.services import job_submit
from tests import factories


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(cast: Any) -> Client:
    return signed_in(cast.alice)


@pytest.fixture
def bob_client(cast: Any) -> Client:
    return signed_in(cast.bob)


@pytest.fixture
def carol_client(cast: Any) -> Client:
    return signed_in(cast.carol)


@pytest.fixture
def ghz_job(cast: Any) -> Any:
    """A GHZ(3) job alice submitted through the real service (queued: no worker runs in view tests)."""
    request = {"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": 3}, "shots": 200}
    return job_submit(user=cast.alice, request=request).job


@pytest.fixture
def finished_job(cast: Any) -> Any:
    """A succeeded GHZ(3) job with counts, written directly (a worker's outcome, for reads)."""
    now = timezone.now()
    return factories.make_job(
        cast.qlab_experiment,
        cast.alice,
        status=JobStatus.SUCCEEDED,
        counts={"000": 96, "111": 100, "011": 4},
        metrics={"hellinger_fidelity": 0.98},
        cost_micros=0,
        n_qubits=3,
        started_at=now - timedelta(seconds=2),
        finished_at=now,
    )
