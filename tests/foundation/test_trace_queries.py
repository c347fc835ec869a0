"""With tracing on, recording a job's stages as spans costs no query per stage: the submit and worker
paths pass the trace id they hold."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from opentelemetry import trace

from jobs import tasks
from jobs.services import job_submit, job_submit_batch
from tests.jobs.orch_support import ghz


@pytest.fixture
def tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (non-proxy) tracer provider, as OTEL_* configuration installs."""
    from opentelemetry.sdk.trace import TracerProvider

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: TracerProvider())


def _trace_id_reads(run: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        run()
    return sum('"trace_id" FROM "jobs_job"' in q["sql"] for q in ctx.captured_queries)


def test_stage_spans_read_no_trace_ids_when_tracing_is_on(cast: Any, tracing: None) -> None:
    sweep = [ghz(cast.qlab_experiment, 3, shots=100 + i) for i in range(5)]
    assert _trace_id_reads(lambda: job_submit_batch(user=cast.alice, requests=sweep)) == 0
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 2)).job
    assert _trace_id_reads(lambda: tasks.run_job(str(job.pk))) == 0
