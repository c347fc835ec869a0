"""API input and output schemas for jobs, experiments, approvals and backends.

Output field names are the public contract of `/api/v1`; change them only with
a new API version. Money is a decimal string in the currency's major unit next to `currency`; every
bitstring puts qubit 0 leftmost.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from ninja import Field, Schema
from ninja.renderers import NinjaJSONEncoder
from pydantic import ConfigDict, field_validator

from adapters.base import Capabilities
from budgets.schemas import IDENT, SLUG, TEXT, money_text
from jobs.contract import JobRequest, whole_json_number
from jobs.models import Approval, Experiment, Job, JobEvent

StatusName = Literal[
    "submitted", "awaiting_approval", "queued", "running", "paused", "succeeded", "failed", "cancelled", "rejected"
]


class EstimateOut(Schema):
    """What the portal expected when it chose the backend."""

    cost: str = Field(description="estimated cost, decimal in the currency's major unit")
    currency: str
    seconds: float = Field(description="estimated run time")
    backend: str
    reasons: list[str] = Field(description="why this backend was chosen, in order")
    needs_approval: bool


class JobError(Schema):
    code: str
    message: str


class JobOut(Schema):
    id: uuid.UUID
    status: StatusName
    family: str
    family_version: int
    params: dict[str, Any]
    objective: str
    shots: int
    max_tier: int
    priority: str
    experiment: int = Field(description="experiment id")
    team: str = Field(description="team slug")
    labels: list[str]
    backend: str = Field(description="chosen (or pinned) backend id; empty until chosen")
    tier: int | None
    emulated: bool = Field(description="hardware emulated from a calibration snapshot, never a real device")
    estimate: EstimateOut
    cost: str | None = Field(description="what the job actually cost, once settled")
    currency: str
    n_qubits: int
    fingerprint: str = Field(description="SHA-256 of circuit + shots + backend + SDK versions (cache key)")
    trace_id: str
    cached_from: uuid.UUID | None = Field(description="the job whose result this one reused, if any")
    submitted_by: str
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: JobError | None

    @staticmethod
    def resolve_experiment(job: Job) -> int:
        return job.experiment_id

    @staticmethod
    def resolve_team(job: Job) -> str:
        return job.team.slug

    @staticmethod
    def resolve_submitted_by(job: Job) -> str:
        return job.submitted_by.get_username()

    @staticmethod
    def resolve_cached_from(job: Job) -> uuid.UUID | None:
        return job.cached_from_id

    @staticmethod
    def resolve_estimate(job: Job) -> dict[str, Any]:
        estimate = job.estimate or {}
        return {
            "cost": money_text(int(estimate.get("cost_micros") or 0)),
            "currency": settings.CURRENCY,
            "seconds": float(estimate.get("seconds") or 0.0),
            "backend": estimate.get("backend") or job.backend,
            "reasons": list(estimate.get("reasons") or job.policy_reasons or []),
            "needs_approval": job.needs_approval,
        }

    @staticmethod
    def resolve_cost(job: Job) -> str | None:
        return money_text(job.cost_micros)

    @staticmethod
    def resolve_currency(job: Job) -> str:
        return settings.CURRENCY

    @staticmethod
    def resolve_error(job: Job) -> dict[str, str] | None:
        if not (job.error_code or job.error_message):
            return None
        return {"code": job.error_code or "failed", "message": job.error_message}


def render_job(job: Job) -> dict[str, Any]:
    """The JSON body of one job, as `POST /jobs` stores it for idempotent replays — encoded exactly as
    ninja encodes every other answer (timestamps to the millisecond), so GET /jobs/{id} agrees with it."""
    return json.loads(json.dumps(JobOut.from_orm(job).model_dump(), cls=NinjaJSONEncoder))


class ResultOut(Schema):
    job: uuid.UUID
    counts: dict[str, int] = Field(description="bitstring (qubit 0 leftmost) → count")
    shots: int
    backend: str
    emulated: bool
    metrics: dict[str, Any]
    versions: dict[str, Any] = Field(description="SDK versions the job ran with")
    calibration: dict[str, Any] = Field(description="device, date and snapshot reference of the noise model")
    seed: int | None
    cost: str | None
    currency: str
    cached_from: uuid.UUID | None
    fingerprint: str
    meta: dict[str, Any] = Field(description="execute/transpile seconds, precision and other run facts")

    @staticmethod
    def resolve_job(job: Job) -> uuid.UUID:
        return job.pk

    @staticmethod
    def resolve_counts(job: Job) -> dict[str, int]:
        return job.counts or {}

    @staticmethod
    def resolve_versions(job: Job) -> dict[str, Any]:
        return job.sdk_versions or {}

    @staticmethod
    def resolve_calibration(job: Job) -> dict[str, Any]:
        return job.calibration or {}

    @staticmethod
    def resolve_cost(job: Job) -> str | None:
        return money_text(job.cost_micros)

    @staticmethod
    def resolve_currency(job: Job) -> str:
        return settings.CURRENCY

    @staticmethod
    def resolve_cached_from(job: Job) -> uuid.UUID | None:
        return job.cached_from_id

    @staticmethod
    def resolve_meta(job: Job) -> dict[str, Any]:
        return job.result_meta or {}


class EventOut(Schema):
    """One lifecycle transition (stage `lifecycle`) or one timed stage (validate, transpile, ...)."""

    id: int
    stage: str
    from_status: str
    to_status: str
    actor: str
    reason: str
    data: dict[str, Any]
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: float | None
    created_at: datetime

    @staticmethod
    def resolve_actor(event: JobEvent) -> str:
        return event.actor_label


class QuoteOut(Schema):
    """What submitting would do; nothing is created."""

    backend: str
    tier: int
    emulated: bool
    reasons: list[str]
    cost: str
    currency: str
    seconds: float
    seconds_source: str = Field(
        description="where `seconds` comes from: the backend's stored runs of this shape, a curve fitted "
        "to its runs, or the backend's formula"
    )
    needs_approval: bool
    approval_reasons: list[str]
    budget_remaining: str
    n_qubits: int
    fingerprint: str
    cached_from: uuid.UUID | None = Field(description="an earlier job whose result would be reused (free)")

    @staticmethod
    def resolve_cost(quote: Any) -> str:
        return money_text(quote.cost_micros)

    @staticmethod
    def resolve_budget_remaining(quote: Any) -> str:
        return money_text(quote.budget_remaining_micros)

    @staticmethod
    def resolve_seconds_source(quote: Any) -> str:
        return "result cache" if quote.cached_from else str(quote.estimate.get("seconds_source", ""))


class ApprovalOut(Schema):
    """A sign-off request in the approver inbox, with the job it is about."""

    job_id: uuid.UUID
    status: str
    reasons: list[str] = Field(description="why the job needs a sign-off")
    requested_at: datetime
    expires_at: datetime
    is_own: bool = Field(False, description="you submitted it, so someone else must decide")
    job: JobOut

    @staticmethod
    def resolve_job_id(approval: Approval) -> uuid.UUID:
        return approval.job_id


class Input(Schema):
    """Request bodies refuse unknown fields (a typo is an error, not silently ignored) and take JSON's
    types strictly ("100" is not a number, true is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class LifecycleIn(Input):
    reason: str = Field("", max_length=500, pattern=TEXT, description="why, for the job's timeline")


class RerouteIn(Input):
    backend: str = Field(min_length=1, max_length=100, pattern=IDENT, description="backend id from GET /backends")
    reason: str = Field("", max_length=500, pattern=TEXT)


class DecisionIn(Input):
    comment: str = Field("", max_length=2000, pattern=TEXT)
    backend: str | None = Field(
        None, min_length=1, max_length=100, pattern=IDENT, description="approve on another backend"
    )
    shots: int | None = Field(None, ge=1, le=1_000_000, description="approve with fewer (or more) shots")

    _whole_numbers = field_validator("shots", mode="before")(whole_json_number)


class JobBatchIn(Input):
    jobs: list[JobRequest] = Field(
        description="the jobs, in order: each the body of `POST /jobs`; 1 to JOB_BATCH_MAX (default 500)"
    )


class JobBatchOut(Schema):
    jobs: list[JobOut] = Field(description="the jobs created, in the order of the request")


class PriceOut(Schema):
    description: str = Field(description='for people, e.g. "USD 0.30 per task + USD 0.00145 per shot"')
    kind: str = Field(description="free | per_task_shot | per_second | per_minute")
    per_task: str
    per_shot: str
    per_second: str
    per_minute: str
    min_seconds: float
    currency: str


class BackendOut(Schema):
    id: str
    tier: int = Field(description="0 local sim · 1 scaled sim · 2 noisy sim · 3 hardware")
    emulated: bool
    available: bool
    max_qubits: int
    native_gates: list[str]
    noise: str | None
    description: str
    price: PriceOut
    typical_queue_seconds: float
    queue_depth: int = Field(description="jobs queued or running on it now")
    failure_rate: float | None = Field(description="share of its recent finished jobs that failed")
    calibration: dict[str, Any] | None

    @classmethod
    def render(cls, caps: Capabilities, *, queue_depth: int, failure_rate: float | None) -> BackendOut:
        price = caps.price
        return cls(
            id=caps.backend_id,
            tier=caps.tier,
            emulated=caps.emulated,
            available=caps.available,
            max_qubits=caps.max_qubits,
            native_gates=sorted(caps.native_gates),
            noise=caps.noise,
            description=caps.description,
            price=PriceOut(
                description=price.describe(settings.CURRENCY),
                kind=str(price.kind),
                per_task=money_text(price.per_task_micros),
                per_shot=money_text(price.per_shot_micros),
                per_second=money_text(price.per_second_micros),
                per_minute=money_text(price.per_minute_micros),
                min_seconds=price.min_seconds,
                currency=settings.CURRENCY,
            ),
            typical_queue_seconds=caps.typical_queue_seconds,
            queue_depth=queue_depth,
            failure_rate=failure_rate,
            calibration=dict(caps.calibration) if caps.calibration else None,
        )


class ExperimentOut(Schema):
    id: int
    name: str
    team: str = Field(description="team slug")
    description: str
    experiment_class: str | None = Field(description="experiment class slug")
    data_classification: str
    retention_days: int
    created_at: datetime

    @staticmethod
    def resolve_team(experiment: Experiment) -> str:
        return experiment.team.slug

    @staticmethod
    def resolve_experiment_class(experiment: Experiment) -> str | None:
        return experiment.experiment_class.slug if experiment.experiment_class_id else None


class ExperimentIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=TEXT)
    team: str = Field(min_length=1, max_length=64, pattern=SLUG, description="slug of a team you belong to")
    description: str = Field("", max_length=5000, pattern=TEXT)
    experiment_class: str | None = Field(None, max_length=64, pattern=SLUG, description="experiment class slug")
    data_classification: Literal["public", "internal", "confidential", "restricted"] = "internal"
    retention_days: int = Field(365, ge=1, le=36500)

    _whole_numbers = field_validator("retention_days", mode="before")(whole_json_number)


class JobFilters(Schema):
    status: StatusName | None = None
    experiment: int | None = Field(None, ge=1, le=2**63 - 1, description="experiment id")
    backend: str | None = Field(None, max_length=100, pattern=IDENT)
    family: str | None = Field(None, max_length=40, pattern=IDENT)
    label: str | None = Field(None, max_length=64, pattern=IDENT)
    q: str | None = Field(
        None, max_length=200, pattern=TEXT, description="free text over id, family, backend and experiment name"
    )
