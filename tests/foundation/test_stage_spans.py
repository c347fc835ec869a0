"""With tracing on, a job's stages — submit and worker — are spans under its request's trace id."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jobs import lifecycle, tasks
from jobs.models import Stage
from jobs.services import job_submit, job_submit_batch
from tests.jobs.orch_support import ghz


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """A real tracer provider, as OTEL_* configuration installs, exporting to memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(lifecycle, "_tracer", provider.get_tracer("hybridportal.jobs"))
    return exporter


def _stages_by_trace(exporter: InMemorySpanExporter) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(f"{span.context.trace_id:032x}", []).append(span.name)
    return found


def test_every_stage_of_a_sweep_and_a_run_is_a_span_under_its_requests_trace(cast: Any, spans: Any) -> None:
    sweep = [ghz(cast.qlab_experiment, 3, shots=100 + i) for i in range(3)]
    jobs = job_submit_batch(user=cast.alice, requests=sweep).jobs
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 2)).job
    assert tasks.run_job(str(job.pk)) == "succeeded"

    by_trace = _stages_by_trace(spans)
    submitted = [Stage.VALIDATE, Stage.ASSEMBLE, Stage.SELECT]
    assert len({each.trace_id for each in jobs}) == 1  # one request, one trace
    assert sorted(by_trace[jobs[0].trace_id]) == sorted(submitted * len(jobs))
    ran = [Stage.QUEUE_WAIT, Stage.TRANSPILE, Stage.EXECUTE, Stage.PARSE, Stage.POSTPROCESS]
    assert by_trace[job.trace_id] == submitted + ran
