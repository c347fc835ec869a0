"""Jobs API: submit and quote jobs, read them and their results, steer them, decide approvals, list
backends and experiments.

Handlers parse, call one service or selector, and render. Access control is in the selectors and
services: another team's job or experiment is 404 (`NotFound`), never 403. Scopes are checked by
the route's auth (`budgets.api_auth`).

No `from __future__ import annotations` here: ninja resolves the handlers' annotations at import,
and inside its `paginate` wrapper string annotations would not find this module's schemas.
"""

import uuid
from datetime import timedelta

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Body, Header, Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from adapters.registry import all_capabilities
from budgets.api_auth import APPROVE, READ, SUBMIT
from budgets.errors import Conflict
from budgets.schemas import Pages, errors
from jobs import selectors, services
from jobs.contract import JobRequest
from jobs.models import Job, JobStatus
from jobs.schemas import (
    ApprovalOut,
    BackendOut,
    DecisionIn,
    EventOut,
    ExperimentIn,
    ExperimentOut,
    JobBatchIn,
    JobBatchOut,
    JobFilters,
    JobOut,
    LifecycleIn,
    QuoteOut,
    RerouteIn,
    ResultOut,
    render_job,
)

router = Router(tags=["jobs"])

RECENT = timedelta(hours=24)  # the window of a backend's failure rate

IDEMPOTENCY_KEY = Header(
    ...,
    alias="Idempotency-Key",
    min_length=1,
    max_length=255,
    pattern=r"^[\x21-\x7e]+$",
    description="required; 1–255 printable ASCII (a UUID4 is ideal); kept ≥ 24 h, scoped to you",
)


# --- submit and quote -----------------------------------------------------------------------------
@router.post("/jobs", response={201: JobOut, **errors(404, 409)}, auth=SUBMIT)
def submit_job(request: HttpRequest, payload: JobRequest, idempotency_key: str = IDEMPOTENCY_KEY) -> JsonResponse:
    """Submit a job. The same Idempotency-Key and body replays the first response
    (`Idempotent-Replayed: true`); while the first is in flight → 409; with another body → 422."""
    result = services.job_submit(
        user=request.user,
        request=payload,
        traceparent=request.headers.get("traceparent"),
        idempotency_key=idempotency_key,
        render=render_job,
    )
    # The stored body is sent as stored: a replay must be the first answer, not a fresh rendering.
    response = JsonResponse(result.body or render_job(result.job), status=result.status_code)
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@router.post("/jobs/batch", response={201: JobBatchOut, **errors(404, 409)}, auth=SUBMIT)
def submit_jobs(request: HttpRequest, payload: JobBatchIn, idempotency_key: str = IDEMPOTENCY_KEY) -> JsonResponse:
    """Submit several jobs (a parameter sweep) at once, all or nothing: each as `POST /jobs` would,
    answered in request order. A refused job refuses the batch, naming it (`jobs[3].shots`); at most
    JOB_BATCH_MAX (default 500). Idempotency-Key as for `POST /jobs`, covering the whole batch."""
    result = services.job_submit_batch(
        user=request.user,
        requests=payload.jobs,
        traceparent=request.headers.get("traceparent"),
        idempotency_key=idempotency_key,
        render=render_job,
    )
    response = JsonResponse(
        result.body or {"jobs": [render_job(job) for job in result.jobs]}, status=result.status_code
    )
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@router.post("/jobs/quote", response={200: QuoteOut, **errors(404)}, auth=SUBMIT)
def quote_job(request: HttpRequest, payload: JobRequest) -> QuoteOut:
    """What submitting this body would do — backend and why, cost, seconds, approval — creating nothing."""
    return QuoteOut.from_orm(services.job_quote(user=request.user, request=payload))


# --- read -----------------------------------------------------------------------------------------
@router.get("/jobs", response={200: list[JobOut], **errors()}, auth=READ)
@paginate(Pages)
def list_jobs(request: HttpRequest, filters: JobFilters = Query(...)) -> object:  # noqa: B008
    """Your teams' jobs, newest first, filtered; `{items, count, page, pages}`."""
    return selectors.jobs_for_user(request.user, **filters.dict())


@router.get("/jobs/{uuid:job_id}", response={200: JobOut, **errors(404)}, auth=READ)
def get_job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    """One job: status, backend, tier, estimate, fingerprint, trace id and timestamps."""
    return selectors.job_get_for_user(request.user, job_id)


@router.get("/jobs/{uuid:job_id}/result", response={200: ResultOut, **errors(404, 409)}, auth=READ)
def get_result(request: HttpRequest, job_id: uuid.UUID) -> Job:
    """Counts (qubit 0 leftmost), shots, backend, metrics, versions, calibration. 409 `not_ready`
    until the job has succeeded."""
    job = selectors.job_get_for_user(request.user, job_id)
    if job.status != JobStatus.SUCCEEDED:
        raise Conflict(f"job is {job.status}; there is no result yet", code="not_ready", detail={"status": job.status})
    return job


@router.get("/jobs/{uuid:job_id}/events", response={200: list[EventOut], **errors(404)}, auth=READ)
def get_events(request: HttpRequest, job_id: uuid.UUID) -> object:
    """The job's timeline: every status change (actor, reason) and every timed stage."""
    return selectors.job_events(selectors.job_get_for_user(request.user, job_id))


# --- lifecycle controls ---------------------------------------------------------------------------
LIFECYCLE_RESPONSES = {200: JobOut, **errors(404, 409)}


@router.post("/jobs/{uuid:job_id}/pause", response=LIFECYCLE_RESPONSES, auth=SUBMIT)
def pause_job(request: HttpRequest, job_id: uuid.UUID, payload: LifecycleIn = Body(None)) -> Job:  # noqa: B008
    """Queued or awaiting approval → paused (it keeps its place in the budget)."""
    return services.job_pause(user=request.user, job_id=job_id, reason=payload.reason if payload else "")


@router.post("/jobs/{uuid:job_id}/resume", response=LIFECYCLE_RESPONSES, auth=SUBMIT)
def resume_job(request: HttpRequest, job_id: uuid.UUID, payload: LifecycleIn = Body(None)) -> Job:  # noqa: B008
    """Paused → back where it was (queued or awaiting approval)."""
    return services.job_resume(user=request.user, job_id=job_id, reason=payload.reason if payload else "")


@router.post("/jobs/{uuid:job_id}/cancel", response=LIFECYCLE_RESPONSES, auth=SUBMIT)
def cancel_job(request: HttpRequest, job_id: uuid.UUID, payload: LifecycleIn = Body(None)) -> Job:  # noqa: B008
    """Any unfinished job → cancelled; its reserved money goes back to the budget."""
    return services.job_cancel(user=request.user, job_id=job_id, reason=payload.reason if payload else "")


@router.post("/jobs/{uuid:job_id}/reroute", response=LIFECYCLE_RESPONSES, auth=SUBMIT)
def reroute_job(request: HttpRequest, job_id: uuid.UUID, payload: RerouteIn) -> Job:
    """Move a queued, paused or awaiting job to another backend, re-estimated within its max_tier."""
    return services.job_reroute(user=request.user, job_id=job_id, backend=payload.backend, reason=payload.reason)


# --- approvals ------------------------------------------------------------------------------------
@router.get("/approvals", response={200: list[ApprovalOut], **errors()}, auth=APPROVE, tags=["approvals"])
def list_approvals(request: HttpRequest) -> object:
    """Jobs waiting for sign-off in the teams where you are an approver; your own are marked
    `is_own` (another approver must decide them)."""
    return selectors.approvals_pending_for_user(request.user)


@router.post("/approvals/{uuid:job_id}/approve", response=LIFECYCLE_RESPONSES, auth=APPROVE, tags=["approvals"])
def approve_job(request: HttpRequest, job_id: uuid.UUID, payload: DecisionIn = Body(None)) -> Job:  # noqa: B008
    """Sign off a job (optionally on another backend or with other shots); it is queued. The job is
    checked against its budget as it is now: 422 `tier_not_allowed` when the budget's tier cap was
    lowered below its backend (`detail.suggested_backend` is one within the cap to approve it on, or
    reject it), 422 `budget_exceeded` naming the budget when its money no longer fits."""
    payload = payload or DecisionIn()
    return services.approval_decide(
        user=request.user,
        job_id=job_id,
        decision="approve",
        comment=payload.comment,
        backend=payload.backend,
        shots=payload.shots,
    )


@router.post("/approvals/{uuid:job_id}/reject", response=LIFECYCLE_RESPONSES, auth=APPROVE, tags=["approvals"])
def reject_job(request: HttpRequest, job_id: uuid.UUID, payload: DecisionIn = Body(None)) -> Job:  # noqa: B008
    """Refuse a job; its reserved money goes back to the budget."""
    payload = payload or DecisionIn()
    return services.approval_decide(user=request.user, job_id=job_id, decision="reject", comment=payload.comment)


# --- backends and experiments ---------------------------------------------------------------------
@router.get("/backends", response={200: list[BackendOut], **errors()}, auth=READ, tags=["backends"])
def list_backends(request: HttpRequest) -> list[BackendOut]:
    """Every backend: tier, emulated, size, noise, price, jobs queued or running on it, and the share
    of its jobs that failed in the last 24 hours."""
    depths = {row["backend"]: row["queued"] + row["running"] for row in selectors.queue_depths()["by_backend"]}
    since = timezone.now() - RECENT
    return [
        BackendOut.render(
            caps,
            queue_depth=depths.get(caps.backend_id, 0),
            failure_rate=selectors.backend_stats(caps.backend_id, since)["failure_rate"],
        )
        for caps in all_capabilities()
    ]


@router.get("/experiments", response={200: list[ExperimentOut], **errors()}, auth=READ, tags=["experiments"])
def list_experiments(request: HttpRequest) -> object:
    """Experiments of your teams."""
    return selectors.experiments_for_user(request.user)


@router.post("/experiments", response={201: ExperimentOut, **errors(404, 409)}, auth=SUBMIT, tags=["experiments"])
def create_experiment(request: HttpRequest, payload: ExperimentIn) -> Status:
    """A new experiment in one of your teams."""
    return Status(201, services.experiment_create(user=request.user, **payload.dict()))
