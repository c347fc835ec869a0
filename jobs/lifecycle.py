"""The one way a job changes status: a conditional UPDATE plus an append-only JobEvent.

`transition` returns False when the job was not in any of the expected statuses — another worker,
a duplicate delivery, or a user got there first — and then writes nothing. Callers decide whether
that is an error (a user's illegal action) or a no-op (a duplicate task).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from jobs.models import Job, JobEvent, JobStatus, Stage

# Which statuses each status may move to. Reroute is queued → queued on another backend. A running job
# belongs to its worker: it may be cancelled or returned to the queue (reaper), never paused.
ALLOWED: dict[str, frozenset[str]] = {
    JobStatus.SUBMITTED: frozenset(
        {
            JobStatus.AWAITING_APPROVAL,
            JobStatus.QUEUED,
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.REJECTED,
        }
    ),
    JobStatus.AWAITING_APPROVAL: frozenset(
        {JobStatus.QUEUED, JobStatus.PAUSED, JobStatus.CANCELLED, JobStatus.REJECTED, JobStatus.AWAITING_APPROVAL}
    ),
    JobStatus.QUEUED: frozenset(
        {
            JobStatus.RUNNING,
            JobStatus.PAUSED,
            JobStatus.CANCELLED,
            JobStatus.FAILED,
            JobStatus.QUEUED,
            JobStatus.AWAITING_APPROVAL,
            JobStatus.SUCCEEDED,
        }
    ),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}),
    JobStatus.PAUSED: frozenset({JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL, JobStatus.CANCELLED}),
}


class IllegalTransition(Exception):
    """A user asked for a status change the job's current status does not allow."""

    def __init__(self, job_id: object, current: str, wanted: str) -> None:
        self.current, self.wanted = current, wanted
        super().__init__(f"job {job_id} is {current}; it cannot become {wanted}")


def transition(
    job_id: object,
    *,
    from_statuses: Iterable[str],
    to_status: str,
    expect: dict[str, Any] | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
    stages: Iterable[tuple[str, datetime, datetime, dict[str, Any]]] = (),
    instance: Job | None = None,
    **fields: Any,
) -> bool:
    """Move job `job_id` from one of `from_statuses` to `to_status`, recording who did it and why.

    Returns True when this call made the change. Exactly one of several racing callers wins: the
    UPDATE's WHERE (status, plus `expect`, e.g. the attempt number a worker read) takes the row lock
    and re-checks it after any wait. `stages` are timed stage events written before the lifecycle
    event; `instance`, when given, gets the written fields, so the caller need not read the row again.
    """
    sources = [s for s in from_statuses if to_status in ALLOWED.get(s, frozenset())]
    if not sources:
        return False
    now = timezone.now()
    updates: dict[str, Any] = {"status": to_status, "updated_at": now, **fields}
    stages = list(stages)
    # No savepoint: nothing here is caught, so a database error aborts the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        if len(sources) == 1:
            current = sources[0]  # the UPDATE's WHERE is the whole check; no need to read first
        else:
            rows = Job.objects.filter(pk=job_id, status__in=sources, **(expect or {}))
            current = rows.values_list("status", flat=True).first()
            if current is None:
                return False
        if not Job.objects.filter(pk=job_id, status=current, **(expect or {})).update(**updates):
            return False
        label = _label(actor, actor_label)
        JobEvent.objects.bulk_create(
            [
                *(_stage_row(job_id, *s, actor_label=label) for s in stages),
                _lifecycle_event(job_id, current, to_status, actor, actor_label, reason, data, now),
            ]  # the stages led to the change: they come first
        )
    trace_id = instance.trace_id if instance is not None else None
    for s in stages:
        emit_stage_span(job_id, *s, trace_id=trace_id)
    if instance is not None:
        for name, value in updates.items():
            if not hasattr(value, "resolve_expression"):  # an F() expression's value is not known here
                setattr(instance, name, value)
    return True


@dataclass(frozen=True)
class Start:
    """How a new job enters its first status: the status (one the submitted status may move to), the
    lifecycle event's reason and data, the timed stages that led there, and the fields the move sets."""

    to_status: str
    reason: str = ""
    data: dict[str, Any] | None = None
    stages: Sequence[tuple[str, datetime, datetime, dict[str, Any]]] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)


def new_rows(
    starts: Sequence[tuple[Job, Start]], *, actor: AbstractBaseUser | None = None
) -> tuple[list[Job], list[JobEvent]]:
    """New (unsaved) jobs, each set in its first status, and the events a submitted job moving there at
    once would have — its stages, then submitted → first status, each job's in order — for the caller
    to write with `bulk_create`: the same record as an INSERT plus `transition` per job."""
    for job, start in starts:
        if start.to_status not in ALLOWED[JobStatus.SUBMITTED]:
            raise ValueError(f"a new job cannot start as {start.to_status}")
        for name, value in {"status": start.to_status, **start.fields}.items():
            setattr(job, name, value)
    now, label = timezone.now(), _label(actor, "")
    events = [
        event
        for job, start in starts
        for event in (
            *(stage_event(job.pk, *s, actor_label=label, trace_id=job.trace_id) for s in start.stages),
            _lifecycle_event(job.pk, JobStatus.SUBMITTED, start.to_status, actor, "", start.reason, start.data, now),
        )
    ]
    return [job for job, _ in starts], events


def _label(actor: AbstractBaseUser | None, actor_label: str) -> str:
    return actor_label or (actor.get_username() if actor is not None else "system")


def _lifecycle_event(
    job_id: object,
    from_status: str,
    to_status: str,
    actor: AbstractBaseUser | None,
    actor_label: str,
    reason: str,
    data: dict[str, Any] | None,
    now: datetime,
) -> JobEvent:
    return JobEvent(
        job_id=job_id,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=_label(actor, actor_label),
        stage=Stage.LIFECYCLE,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data or {},
        started_at=now,
        ended_at=now,
    )


def record_stage(
    job_id: object,
    stage: str,
    *,
    started_at: datetime,
    ended_at: datetime | None = None,
    data: dict[str, Any] | None = None,
    actor_label: str = "system",
) -> JobEvent:
    """Write one timed stage (validate, transpile, execute, ...) to the job's timeline, and emit it
    as an OpenTelemetry span under the job's trace id when tracing is on."""
    ended_at = ended_at or timezone.now()
    return record_stages(job_id, [(stage, started_at, ended_at, data or {})], actor_label=actor_label)[0]


def record_stages(
    job_id: object,
    stages: Iterable[tuple[str, datetime, datetime, dict[str, Any]]],
    *,
    actor_label: str = "system",
) -> list[JobEvent]:
    """Several timed stages in one INSERT (the submit path records validate, assemble and select)."""
    return JobEvent.objects.bulk_create([stage_event(job_id, *s, actor_label=actor_label) for s in stages])


def stage_event(
    job_id: object,
    stage: str,
    started_at: datetime,
    ended_at: datetime,
    data: dict[str, Any],
    *,
    actor_label: str,
    trace_id: str | None = None,
) -> JobEvent:
    """One timed stage, not yet saved; emitted as a span under the job's trace id when tracing is on
    (`trace_id`: the job's, when the caller has it; else it is read)."""
    emit_stage_span(job_id, stage, started_at, ended_at, data, trace_id)
    return _stage_row(job_id, stage, started_at, ended_at, data, actor_label=actor_label)


def _stage_row(
    job_id: object, stage: str, started_at: datetime, ended_at: datetime, data: dict[str, Any], *, actor_label: str
) -> JobEvent:
    return JobEvent(
        job_id=job_id,
        stage=stage,
        actor_label=actor_label,
        started_at=started_at,
        ended_at=ended_at,
        duration_ms=(ended_at - started_at).total_seconds() * 1000.0,
        data=data,
    )


_tracer = trace.get_tracer("hybridportal.jobs")


def emit_stage_span(
    job_id: object,
    stage: str,
    started_at: datetime,
    ended_at: datetime,
    data: dict[str, Any],
    trace_id: str | None = None,
) -> None:
    # The default provider is a no-op proxy: skip the trace-id lookup entirely when tracing is off.
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    if trace_id is None:  # one query per stage: callers on the submit and worker paths pass it
        trace_id = Job.objects.filter(pk=job_id).values_list("trace_id", flat=True).first() or ""
    try:
        parent = SpanContext(int(trace_id, 16), 1, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    except ValueError:
        return
    context = trace.set_span_in_context(NonRecordingSpan(parent))
    span = _tracer.start_span(stage, context=context, start_time=_ns(started_at))
    span.set_attribute("job.id", str(job_id))
    for key, value in data.items():
        if isinstance(value, str | int | float | bool):
            span.set_attribute(f"job.{key}", value)
    span.end(end_time=_ns(ended_at))


def _ns(moment: datetime) -> int:
    # Integer arithmetic: float nanoseconds lose microseconds at today's epoch.
    return (int(moment.timestamp()) * 1_000_000 + moment.microsecond) * 1000
