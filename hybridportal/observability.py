"""Operators' view: Prometheus text at /metrics, SLOs computed from stored job records, and the
OpenTelemetry tracer provider (exporter chosen by OTEL_EXPORTER; off by default).

Metrics are read from the database at scrape time rather than counted in process memory: gunicorn
and every qcluster run in separate processes (and hosts), and the Job table is the source of truth.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from budgets.models import Budget
from jobs.models import TERMINAL_STATUSES, Job, JobStatus

SIMULATOR_SLO_SECONDS = 120.0
SIMULATOR_SLO_TARGET = 0.95
TERMINAL_SLO_TARGET = 0.99
STUCK_AFTER = timedelta(hours=1)  # an unfinished job older than this, not waiting on a person, is stuck
WAITING_ON_PEOPLE = (JobStatus.AWAITING_APPROVAL, JobStatus.PAUSED)


@dataclass(frozen=True)
class Slo:
    name: str
    target: float
    value: float | None  # None when there is nothing to measure yet
    good: int
    total: int
    counted: str = ""  # what `total` counts, for people: "simulator jobs that ran in the last 7 days"

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value >= self.target


def _window_text(window: timedelta) -> str:
    """"7 days", "24 h": whole days from two days on, hours below."""
    hours = round(window.total_seconds() / 3600)
    return f"{hours // 24} days" if hours >= 48 and hours % 24 == 0 else f"{hours} h"


def slo_summary(*, window: timedelta = timedelta(days=7), team_ids: list[int] | None = None) -> list[Slo]:
    """The portal's two service-level objectives, over the last `window`.

    - 95 % of simulator jobs (tier < 3) that ran and finished in the window took under 2 minutes
      (started → finished; results served from the cache did not run).
    - 99 % of the jobs submitted in the window are not stuck: they reached a terminal state, or are
      younger than STUCK_AFTER, or wait on a person (a sign-off, a pause). Every job counts from the
      moment it is submitted, so a day of finished jobs is never "no data".
    """
    now = timezone.now()
    since = now - window
    jobs = Job.objects.all()
    if team_ids is not None:
        jobs = jobs.filter(team_id__in=team_ids)
    ran = jobs.filter(
        tier__lt=3,
        status=JobStatus.SUCCEEDED,
        started_at__isnull=False,
        finished_at__gte=since,
        cached_from__isnull=True,
    )
    ran_total = ran.count()
    ran_fast = ran.filter(finished_at__lte=F("started_at") + timedelta(seconds=SIMULATOR_SLO_SECONDS)).count()
    submitted = jobs.filter(created_at__gte=since)
    submitted_total = submitted.count()
    not_stuck = submitted.filter(
        Q(status__in=TERMINAL_STATUSES)
        | Q(status__in=WAITING_ON_PEOPLE)
        | Q(created_at__gt=now - STUCK_AFTER)
    ).count()
    period = _window_text(window)
    return [
        Slo(
            "Simulator jobs done in < 2 min",
            SIMULATOR_SLO_TARGET,
            ran_fast / ran_total if ran_total else None,
            ran_fast,
            ran_total,
            f"simulator jobs that ran in the last {period}",
        ),
        Slo(
            "Jobs finished or on their way",
            TERMINAL_SLO_TARGET,
            not_stuck / submitted_total if submitted_total else None,
            not_stuck,
            submitted_total,
            f"jobs submitted in the last {period} (stuck: unfinished after an hour, not waiting on a person)",
        ),
    ]


class PortalCollector:
    """Gauges read from the database on every scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "hybridportal_jobs", "Jobs by status, backend and priority", labels=["status", "backend", "priority"]
        )
        rows = Job.objects.values("status", "backend", "priority").annotate(n=Count("id"))
        for row in rows:
            jobs.add_metric([row["status"], row["backend"] or "none", row["priority"]], row["n"])
        yield jobs

        budgets = GaugeMetricFamily(
            "hybridportal_budget_micros",
            f"Budget amounts in micro-{settings.CURRENCY}",
            labels=["team", "experiment_class", "kind"],
        )
        for b in Budget.objects.select_related("team", "experiment_class"):
            labels = [b.team.slug, b.experiment_class.slug]
            budgets.add_metric([*labels, "limit"], b.limit_micros)
            budgets.add_metric([*labels, "spent"], b.spent_micros)
            budgets.add_metric([*labels, "reserved"], b.reserved_micros)
        yield budgets

        slo = GaugeMetricFamily("hybridportal_slo_ratio", "Service-level objectives (7 days)", labels=["slo"])
        target = GaugeMetricFamily("hybridportal_slo_target", "SLO targets", labels=["slo"])
        for item in slo_summary():
            if item.value is not None:
                slo.add_metric([item.name], item.value)
            target.add_metric([item.name], item.target)
        yield slo
        yield target


def _metrics_allowed(request: HttpRequest) -> bool:
    """Staff in the browser, or a scraper presenting METRICS_TOKEN as a bearer token."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    expected = os.environ.get("METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    return bool(expected) and hmac.compare_digest(header, f"Bearer {expected}")


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return HttpResponse(
            "metrics need a staff login or the METRICS_TOKEN bearer token\n", status=401, content_type="text/plain"
        )
    registry = CollectorRegistry()
    registry.register(PortalCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def configure_tracing() -> None:
    """Install a tracer provider when OTEL_EXPORTER asks for one ("console"); "none" leaves the
    OpenTelemetry API's no-op provider, so spans cost nothing."""
    exporter = getattr(settings, "OTEL_EXPORTER", "none")
    if exporter == "none":
        return
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "hybridportal"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        raise ValueError(f"OTEL_EXPORTER must be none or console, not {exporter!r}")
    trace.set_tracer_provider(provider)
