"""Run records: the circuit breaker and the observed run times, read from finished Job rows.

Every submission asks, and a busy backend has thousands of rows, so the reads are ranked and limited
in the database and kept per process for a few seconds (`jobs.slow_reads`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import F, QuerySet, Value, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from jobs import estimates, slow_reads
from jobs.models import Job, JobStatus
from jobs.policy.shared import shared_read

# Failures that say nothing about a backend's health: the circuit or the user was at fault.
NOT_BACKEND_ERRORS = frozenset({"capacity", "invalid", "contract", "budget_exceeded", "cancelled"})


def breaker_settings() -> dict[str, float]:
    defaults = {"window_jobs": 10, "window_minutes": 15, "failure_ratio": 0.5, "min_jobs": 4}
    return {**defaults, **getattr(settings, "CIRCUIT_BREAKER", {})}


# Each read is a spec — tag, a function building its jobs from values, those values, how many of each
# backend's latest, which backends — whose rows all have `_RECORD_FIELDS`, so several specs can go to
# the database as one UNION ALL. The rows are kept per process for a few seconds (`jobs.slow_reads`).
_RECORD_FIELDS = ("backend", "status", "error_code", "finished_at", "result_meta__execute_seconds")
_RECORD_FIELDS += ("n_qubits", "shots", "estimate__depth")  # a run's shape, for the estimates
_Spec = tuple[str, Callable[..., QuerySet[Job]], dict[str, Any], int, list[str] | None]


def _finished_jobs(*, since: datetime | None = None) -> QuerySet[Job]:
    finished = Job.objects.filter(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED], cached_from__isnull=True)
    return finished.filter(finished_at__gte=since) if since is not None else finished


def _breaker_spec(backend_ids: list[str] | None, since: datetime) -> _Spec:
    cfg = breaker_settings()
    # Bounds the ranking of every backend's jobs. The window otherwise applies after the LIMIT: among a
    # backend's last `window_jobs`, those within it — kept out of the per-backend query, whose plan
    # then reads the newest rows from the index and stops.
    ranked = backend_ids is None or len(backend_ids) > _PER_BACKEND_QUERIES
    return ("breaker", _finished_jobs, {"since": since} if ranked else {}, int(cfg["window_jobs"]), backend_ids)


def _breakers_from(rows: list[tuple[Any, ...]], since: datetime) -> dict[str, str]:
    cfg = breaker_settings()
    per_backend: dict[str, list[tuple[str, str]]] = {}
    for backend, status, code, finished_at, *_ in rows:
        if finished_at >= since:
            per_backend.setdefault(backend, []).append((status, code))
    opened = {}
    for backend, outcomes in per_backend.items():
        failed = sum(1 for status, code in outcomes if status == JobStatus.FAILED and code not in NOT_BACKEND_ERRORS)
        if len(outcomes) >= cfg["min_jobs"] and failed / len(outcomes) >= cfg["failure_ratio"]:
            opened[backend] = (
                f"failing: {failed} of its last {len(outcomes)} jobs failed in {cfg['window_minutes']:g} minutes"
            )
    return opened


def _breaker_window_start(now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(minutes=breaker_settings()["window_minutes"])


@shared_read
def recent_runs(
    *, backend_ids: list[str] | None = None, now: datetime | None = None
) -> tuple[dict[str, str], dict[str, datetime]]:
    """`open_breakers`, and when each backend's newest recent run succeeded (what tells the estimates
    that a backend has a run their model has not seen)."""
    since = _breaker_window_start(now)
    key = slow_reads.runs_key("breaker", *(backend_ids or ["*"]))
    rows = slow_reads.cached(key, lambda: _latest_records([_breaker_spec(backend_ids, since)])["breaker"])
    newest: dict[str, datetime] = {}
    for backend, status, _, finished_at, *_ in sorted(rows, key=lambda row: row[3]):
        if status == JobStatus.SUCCEEDED:
            newest[backend] = finished_at
    return _breakers_from(rows, since), newest


def open_breakers(*, backend_ids: list[str] | None = None, now: datetime | None = None) -> dict[str, str]:
    """Backends whose circuit breaker is open → why. Open when at least `failure_ratio` of a backend's
    last `window_jobs` jobs finished within `window_minutes` failed with backend errors (with at least
    `min_jobs` finished). Cache hits do not count: they never ran."""
    return recent_runs(backend_ids=backend_ids, now=now)[0]


def _succeeded_runs() -> QuerySet[Job]:
    return Job.objects.filter(
        status=JobStatus.SUCCEEDED, cached_from__isnull=True, result_meta__execute_seconds__isnull=False
    )


def backend_runs(backend_ids: list[str]) -> dict[str, list[estimates.Run]]:
    """Backend → its latest succeeded runs (`ESTIMATE_RUNS_PER_BACKEND`), newest first, as the
    estimates read them."""
    spec: _Spec = ("runs", _succeeded_runs, {}, settings.ESTIMATE_RUNS_PER_BACKEND, backend_ids)
    key = slow_reads.runs_key("succeeded", *backend_ids)
    rows = sorted(slow_reads.cached(key, lambda: _latest_records([spec])["runs"]), key=lambda row: row[3], reverse=True)
    runs: dict[str, list[estimates.Run]] = {}
    for backend, _, _, _, seconds, n_qubits, shots, depth in rows:
        run = estimates.run_of(n_qubits, shots, depth, seconds)
        if run is not None:
            runs.setdefault(backend, []).append(run)
    return runs


# Up to this many backends, one indexed LIMIT query each beats ranking a backend's whole history.
_PER_BACKEND_QUERIES = 8


def _latest_records(specs: list[_Spec]) -> dict[str, list[tuple[Any, ...]]]:
    """Tag → `_RECORD_FIELDS` of the `n` most recently finished of each spec's jobs on each of its
    backends (or on all). Per-backend LIMIT queries where the backends are few (on PostgreSQL all of
    them in one UNION ALL), else a window function ranking each backend's jobs."""
    rows: dict[str, list[tuple[Any, ...]]] = {tag: [] for tag, *_ in specs}
    shape = tuple(
        (tag, build, tuple(sorted(values)), n, None if ids is None else len(ids))
        for tag, build, values, n, ids in specs
    )
    values = {
        f"s{i}_{name}": value
        for i, (_, _, spec_values, _, _) in enumerate(specs)
        for name, value in spec_values.items()
    }
    values.update({f"s{i}_backends": list(ids) for i, (*_, ids) in enumerate(specs) if ids is not None})
    count = sum(n_ids if n_ids is not None and n_ids <= _PER_BACKEND_QUERIES else 1 for *_, n_ids in shape)
    if count == 0:
        return rows
    if count == 1 or connections[Job.objects.db].features.supports_slicing_ordering_in_compound:
        found = list(_records_union(shape, **values))
    else:  # SQLite: one query each
        found = [row for query in _record_queries(shape, **values) for row in query]
    for tag, *fields in found:
        rows[tag].append(tuple(fields))
    return rows


def _record_queries(shape: tuple[Any, ...], **values: Any) -> list[QuerySet[Job, tuple[Any, ...]]]:
    """The queries of `_latest_records`'s specs (by shape, with these values)."""
    queries: list[QuerySet[Job, tuple[Any, ...]]] = []
    for i, (tag, build, names, n, _) in enumerate(shape):
        jobs = build(**{name: values[f"s{i}_{name}"] for name in names})
        # finished_at IS NOT NULL lets the partial run-record indexes serve it.
        jobs = jobs.filter(finished_at__isnull=False).annotate(tag=Value(tag))
        backend_ids = values.get(f"s{i}_backends")
        if backend_ids is not None and len(backend_ids) <= _PER_BACKEND_QUERIES:
            for backend_id in backend_ids:
                newest = jobs.filter(backend=backend_id).order_by("-finished_at")
                queries.append(newest.values_list("tag", *_RECORD_FIELDS)[:n])
            continue
        if backend_ids is not None:
            jobs = jobs.filter(backend__in=backend_ids)
        newest_first = Window(RowNumber(), partition_by=[F("backend")], order_by=F("finished_at").desc())
        ranked = jobs.annotate(recency=newest_first).filter(recency__lte=n).order_by()
        queries.append(ranked.values_list("tag", *_RECORD_FIELDS))
    return queries


def _records_union(shape: tuple[Any, ...], **values: Any) -> QuerySet[Job, tuple[Any, ...]]:
    first, *others = _record_queries(shape, **values)
    return first.union(*others, all=True) if others else first
