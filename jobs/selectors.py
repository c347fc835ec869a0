"""Reads of jobs, experiments, approvals and run records for views, the API and the policy.

Access control lives here: everything `*_for_user` is scoped to the teams the user is a member of.
Another team's job or experiment is NotFound — the same answer as a missing one, so ids leak nothing.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from budgets.errors import NotFound
from budgets.models import Hold, Membership, Role
from jobs.models import Approval, ApprovalStatus, Experiment, Job, JobEvent, JobStatus, Stage
from jobs.queueing import cluster_for


def user_team_ids(user: AbstractBaseUser) -> list[int]:
    """Ids of the teams the user is a member of (none when anonymous)."""
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).values_list("team_id", flat=True))


# --- jobs -----------------------------------------------------------------------------------------
def jobs_for_user(
    user: AbstractBaseUser,
    *,
    status: str | list[str] | None = None,
    experiment: int | None = None,
    backend: str | None = None,
    family: str | None = None,
    label: str | None = None,
    q: str | None = None,
) -> QuerySet[Job]:
    """The jobs of the user's teams, newest first, with the optional filters applied.

    `q` matches a job id prefix, the family, the backend or the experiment name (case-insensitive).
    """
    jobs = Job.objects.select_related("team", "experiment", "experiment_class", "submitted_by").filter(
        team_id__in=user_team_ids(user)
    )
    if status:
        jobs = jobs.filter(status__in=[status] if isinstance(status, str) else list(status))
    if experiment is not None:
        jobs = jobs.filter(experiment_id=experiment)
    if backend:
        jobs = jobs.filter(backend=backend)
    if family:
        jobs = jobs.filter(family=family)
    if label:
        # JSON containment is PostgreSQL-only; the quoted text match works on SQLite too.
        jobs = jobs.filter(labels__icontains=f'"{label}"')
    if q:
        q = q.strip()
        match = Q(family__icontains=q) | Q(backend__icontains=q) | Q(experiment__name__icontains=q)
        if _hex_prefix(q):
            match |= Q(id__startswith=q.lower()) if len(q) < 32 else Q(id=_uuid_or_none(q))
        jobs = jobs.filter(match)
    return jobs.order_by("-created_at")


def _hex_prefix(text: str) -> bool:
    return 4 <= len(text) <= 36 and all(c in "0123456789abcdefABCDEF-" for c in text)


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def job_get_for_user(user: AbstractBaseUser, job_id: object) -> Job:
    """One job of the user's teams; NotFound for a missing id, a malformed id or another team's job."""
    pk = _uuid_or_none(job_id)
    job = (
        Job.objects.select_related("team", "experiment", "experiment_class", "submitted_by", "cached_from")
        .filter(pk=pk, team_id__in=user_team_ids(user))
        .first()
        if pk is not None
        else None
    )
    if job is None:
        raise NotFound(f"job {job_id} not found", field="job")
    return job


def job_hold(job: Job) -> Hold | None:
    """The money reserved for the job, if it ever held any (settled, released or still pending)."""
    return Hold.objects.filter(job=job).first()


def job_events(job: Job) -> QuerySet[JobEvent]:
    """The job's timeline: transitions and timed stages, oldest first."""
    return JobEvent.objects.select_related("actor").filter(job=job).order_by("created_at", "id")


def job_timeline(job: Job) -> list[dict[str, Any]]:
    """Spans for a Gantt chart: every timed stage, plus the waits derived from transitions
    (`approval_wait` from awaiting_approval to the next status, `queue_wait` from queued to running).
    Each span: stage, label, start, end, duration_ms. An open wait ends now-less (end None)."""
    labels = dict(Stage.choices)
    spans: list[dict[str, Any]] = []
    waits = {JobStatus.AWAITING_APPROVAL: Stage.APPROVAL_WAIT, JobStatus.QUEUED: Stage.QUEUE_WAIT}
    open_wait: tuple[str, datetime] | None = None
    for event in job_events(job):
        if event.stage != Stage.LIFECYCLE:
            if event.started_at and event.ended_at:
                spans.append(_span(event.stage, labels, event.started_at, event.ended_at, event.data))
            continue
        if open_wait is not None:
            stage, start = open_wait
            spans.append(_span(stage, labels, start, event.started_at or event.created_at, {}))
            open_wait = None
        if event.to_status in waits:
            open_wait = (waits[event.to_status], event.started_at or event.created_at)
    if open_wait is not None:
        stage, start = open_wait
        spans.append({"stage": stage, "label": labels[stage], "start": start, "end": None, "duration_ms": None})
    return sorted(spans, key=lambda s: s["start"])


def _span(stage: str, labels: dict[str, str], start: datetime, end: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": stage,
        "label": labels.get(stage, stage),
        "start": start,
        "end": end,
        "duration_ms": (end - start).total_seconds() * 1000.0,
        "data": data,
    }


# What serving from a cached result copies: its circuit and request are the new job's own already.
_CACHED_FIELDS = ("id", "cached_from_id", "counts", "result_meta", "metrics", "calibration", "seed")


def _cacheable() -> QuerySet[Job]:
    return Job.objects.filter(status=JobStatus.SUCCEEDED).exclude(counts__isnull=True)


def cached_result_for(*, team: Any, fingerprint: str) -> Job | None:
    """The newest succeeded job of `team` with this fingerprint and stored counts, if any."""
    newest = _cacheable().filter(team_id=team.pk, fingerprint=fingerprint).order_by("-finished_at", "-created_at")
    return newest.only(*_CACHED_FIELDS).first()


def cached_results_for(keys: Collection[tuple[int, str]]) -> dict[tuple[int, str], Job]:
    """`cached_result_for` of many (team id, fingerprint) at once, in one query (a batch submission's):
    the newest of each, ranked in the database, so a popular result's many copies are not all read."""
    if not keys:
        return {}
    newest = Window(
        RowNumber(),
        partition_by=[F("team_id"), F("fingerprint")],
        order_by=[F("finished_at").desc(), F("created_at").desc()],
    )
    rows = (
        _cacheable()
        .filter(team_id__in={team for team, _ in keys}, fingerprint__in={fp for _, fp in keys})
        .annotate(newest=newest)
        .filter(newest=1)
        .only(*_CACHED_FIELDS, "team_id", "fingerprint")
    )
    return {(job.team_id, job.fingerprint): job for job in rows if (job.team_id, job.fingerprint) in keys}


# --- experiments ----------------------------------------------------------------------------------
def experiments_for_user(user: AbstractBaseUser) -> QuerySet[Experiment]:
    if not user.is_authenticated:
        return Experiment.objects.none()
    # A subquery, not a list of ids: one round trip on the submit path.
    teams = Membership.objects.filter(user=user).values("team_id")
    return Experiment.objects.select_related("team", "experiment_class").filter(team_id__in=teams)


def experiment_get_for_user(user: AbstractBaseUser, experiment_id: object) -> Experiment:
    """One experiment of the user's teams; NotFound otherwise (missing or another team's)."""
    try:
        pk = int(experiment_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pk = None
    # An id beyond the key column (a 64-bit BigAutoField) names no experiment.
    readable = pk is not None and 0 < pk < 2**63 and user.is_authenticated
    found = experiments_for_user(user).filter(pk=pk).first() if readable else None
    if found is None:
        raise NotFound(f"experiment {experiment_id} not found", field="experiment")
    return found


# --- approvals ------------------------------------------------------------------------------------
def approvals_pending_for_user(user: AbstractBaseUser) -> QuerySet[Approval]:
    """Pending sign-off requests of jobs awaiting approval in the teams where the user is an approver
    or admin, oldest first. The user's own jobs are included (they should see them) and annotated
    `is_own=True`: the UI must show that they cannot approve them."""
    if not user.is_authenticated:
        return Approval.objects.none()
    teams = Membership.objects.filter(user=user, role__in=[Role.APPROVER, Role.ADMIN]).values_list("team_id")
    return (
        Approval.objects.select_related("job", "job__team", "job__experiment", "job__submitted_by")
        .filter(status=ApprovalStatus.PENDING, job__status=JobStatus.AWAITING_APPROVAL, job__team_id__in=teams)
        .annotate(is_own=ExpressionWrapper(Q(job__submitted_by=user), output_field=BooleanField()))
        .order_by("requested_at")
    )


def approvals_waiting_count(user: AbstractBaseUser) -> int:
    """How many pending sign-offs the user could give (their own jobs excluded): the nav badge."""
    return approvals_pending_for_user(user).exclude(job__submitted_by=user).count()


# --- queues and run records -----------------------------------------------------------------------
def queue_depths() -> dict[str, list[dict[str, Any]]]:
    """Queued and running jobs per cluster × priority and per backend (for the dashboard and
    `/backends`' queue_depth). The cluster is the one `jobs.queueing.cluster_for` routes the job to."""
    rows = (
        Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .values("backend", "tier", "priority", "status")
        .annotate(n=Count("id"))
    )
    clusters: dict[tuple[str, str], dict[str, Any]] = {}
    backends: dict[str, dict[str, Any]] = {}
    for row in rows:
        cluster = cluster_for(Job(tier=row["tier"], priority=row["priority"]))
        c = clusters.setdefault(
            (cluster, row["priority"]), {"cluster": cluster, "priority": row["priority"], "queued": 0, "running": 0}
        )
        b = backends.setdefault(row["backend"], {"backend": row["backend"], "queued": 0, "running": 0})
        c[row["status"]] += row["n"]
        b[row["status"]] += row["n"]
    return {
        "by_cluster": sorted(clusters.values(), key=lambda r: (r["cluster"], r["priority"])),
        "by_backend": sorted(backends.values(), key=lambda r: r["backend"]),
    }


def backend_stats(backend_id: str, since: datetime) -> dict[str, Any]:
    """Finished jobs on one backend since `since`: counts, failure rate and median execute seconds
    (cache hits excluded: they did not run)."""
    finished = Job.objects.filter(
        backend=backend_id,
        status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED],
        finished_at__gte=since,
        cached_from__isnull=True,
    )
    statuses = list(finished.values_list("status", "result_meta"))
    failed = sum(1 for status, _ in statuses if status == JobStatus.FAILED)
    seconds = [
        float(meta["execute_seconds"])
        for status, meta in statuses
        if status == JobStatus.SUCCEEDED
        and isinstance(meta, dict)
        and isinstance(meta.get("execute_seconds"), int | float)
    ]
    return {
        "backend": backend_id,
        "since": since,
        "finished": len(statuses),
        "succeeded": len(statuses) - failed,
        "failed": failed,
        "failure_rate": failed / len(statuses) if statuses else None,
        "median_execute_seconds": statistics.median(seconds) if seconds else None,
    }
