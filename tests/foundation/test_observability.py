import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hybridportal.logs import JsonFormatter
from hybridportal.observability import slo_summary
from jobs.lifecycle import record_stage
from jobs.models import JobStatus
from tests.factories import make_job, make_user


def test_metrics_refuse_anonymous_scrapers(client, db):
    response = client.get("/metrics")
    assert response.status_code == 401


def test_metrics_for_staff_list_jobs_by_status_and_budgets(client, cast):
    make_job(cast.qlab_experiment, cast.alice, status=JobStatus.QUEUED)
    admin = make_user("root", is_staff=True)
    client.force_login(admin)
    body = client.get("/metrics").content.decode()
    assert 'hybridportal_jobs{backend="qsim",priority="interactive",status="queued"} 1.0' in body
    assert 'hybridportal_budget_micros{experiment_class="algorithm_validation",kind="limit",team="qlab"}' in body


def test_metrics_accept_the_configured_scrape_token(client, cast, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "scrape-secret-123")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-123").status_code == 200


def test_simulator_slo_counts_slow_jobs_as_misses(cast):
    now = timezone.now()
    for seconds in (5, 10, 300):
        make_job(
            cast.qlab_experiment,
            cast.alice,
            status=JobStatus.SUCCEEDED,
            started_at=now,
            finished_at=now + timedelta(seconds=seconds),
        )
    fast = slo_summary()[0]
    assert (fast.good, fast.total) == (2, 3)
    assert fast.met is False


def test_terminal_slo_flags_a_job_stuck_for_hours(cast):
    stuck = make_job(cast.qlab_experiment, cast.alice, status=JobStatus.RUNNING)
    done = make_job(cast.qlab_experiment, cast.alice, status=JobStatus.SUCCEEDED)
    type(stuck).objects.filter(pk__in=[stuck.pk, done.pk]).update(created_at=timezone.now() - timedelta(hours=3))
    terminal = slo_summary()[1]
    assert (terminal.good, terminal.total, terminal.value) == (1, 2, 0.5)


def test_slos_count_jobs_that_finished_minutes_ago_and_say_what_they_count(cast):
    now = timezone.now()
    for _ in range(5):
        make_job(
            cast.qlab_experiment,
            cast.alice,
            status=JobStatus.SUCCEEDED,
            started_at=now - timedelta(seconds=3),
            finished_at=now,
        )
    make_job(cast.qlab_experiment, cast.alice, status=JobStatus.AWAITING_APPROVAL)  # waits on a person
    fast, terminal = slo_summary()
    assert (fast.good, fast.total, fast.value) == (5, 5, 1.0)
    assert (terminal.good, terminal.total, terminal.value) == (6, 6, 1.0)
    assert fast.counted == "simulator jobs that ran in the last 7 days"
    assert terminal.counted.startswith("jobs submitted in the last 7 days")
    assert slo_summary(window=timedelta(hours=24))[0].counted == "simulator jobs that ran in the last 24 h"


def test_the_dashboards_slo_card_states_its_window_and_counts(cast, client):
    now = timezone.now()
    for _ in range(3):
        make_job(cast.qlab_experiment, cast.alice, status=JobStatus.SUCCEEDED, started_at=now, finished_at=now)
    client.force_login(cast.alice)
    html = client.get("/dashboard/slos/").content.decode()
    assert "no jobs to measure" not in html
    assert "3 of 3 simulator jobs that ran in the last 7 days" in html
    assert "3 of 3 jobs submitted in the last 7 days" in html


def test_json_logs_carry_job_and_trace_ids():
    record = logging.LogRecord("jobs", logging.INFO, __file__, 1, "job %s ran", ("abc",), None)
    record.job_id = "abc"
    record.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "job abc ran"
    assert line["job_id"] == "abc" and line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The global provider can be set once per process; later tests reuse this one.
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # noqa: SLF001
    trace.set_tracer_provider(provider)
    yield exporter
    exporter.clear()


def test_stage_spans_join_the_jobs_trace(cast, spans):
    job = make_job(cast.qlab_experiment, cast.alice, trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    start = timezone.now()
    record_stage(
        job.pk, "execute", started_at=start, ended_at=start + timedelta(milliseconds=25), data={"backend": "qsim"}
    )
    (span,) = spans.get_finished_spans()
    assert span.name == "execute"
    assert format(span.context.trace_id, "032x") == job.trace_id
    assert span.attributes["job.backend"] == "qsim"
    assert (span.end_time - span.start_time) == 25_000_000
