"""Submitting jobs, one or a batch: contract → plan → money → job rows, the writes in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from budgets import services as budget_services
from budgets.errors import Invalid, ServiceError
from budgets.models import AuditEvent
from budgets.money import to_micros
from jobs import approvals, lifecycle, policy
from jobs.contract import JobRequest
from jobs.models import IdempotencyKey, Job, JobEvent, JobStatus, PreEncoded
from jobs.services.idempotency import JOBS_BATCH_ROUTE, JOBS_ROUTE, idempotency_scope
from jobs.services.identity import request_body_sha256, seed_for, trace_id_from
from jobs.services.money import budget_reserve_or_park
from jobs.services.notifications import approvers_notify_of_batch
from jobs.services.planning import Plan, Submission, contract_parse, plan_check, plan_draft
from jobs.services.writes import backend_calibration, enqueue_queued, jsonable

logger = logging.getLogger(__name__)


@dataclass
class SubmitResult:
    job: Job
    replayed: bool
    body: dict[str, Any] | None
    status_code: int


@dataclass
class BatchSubmitResult:
    jobs: list[Job]
    replayed: bool
    body: dict[str, Any] | None
    status_code: int


@dataclass
class PreparedJob:
    """A job decided and paid for, its row built in its first status: what `jobs_insert` inserts."""

    job: Job
    start: lifecycle.Start
    plan: Plan
    holds: bool  # it holds its estimate (it is neither a cache hit nor parked over budget)
    approval_reasons: list[str]


def job_submit(
    *,
    user: AbstractBaseUser,
    request: JobRequest | dict[str, Any],
    traceparent: str | None = None,
    idempotency_key: str | None = None,
    request_sha256: str | None = None,
    render: Callable[[Job], dict[str, Any]] | None = None,
    seed: int | None = None,
) -> SubmitResult:
    """Validate, assemble, select, reserve and queue one job — or serve it from the cache — in ONE
    transaction: a refusal (any ServiceError) leaves no job, hold, key or queue entry behind.

    With `idempotency_key`, the key is claimed in the same transaction: a replay returns the stored
    response (replayed=True), a duplicate in flight raises Conflict("idempotency_in_flight"), the same
    key with a different body raises Invalid("idempotency_mismatch"). `render(job)` is stored as the
    response body to replay. Workers see the job's task only once this commits. `seed` (default: derived from the
    job id) fixes the simulator seed, e.g. so benchmark trial i samples alike on every backend.
    """
    req = contract_parse(request)
    trace_id = trace_id_from(traceparent)
    body_sha = request_sha256 or request_body_sha256(request)
    with idempotency_scope(user=user, key=idempotency_key, body_sha256=body_sha, route=JOBS_ROUTE) as claim:
        if claim.replayed:
            earlier = claim.row
            return SubmitResult(
                job=earlier.job, replayed=True, body=earlier.response_body, status_code=earlier.response_status
            )
        if seed is not None and not 0 <= seed < 2**63:
            raise Invalid("seed must be between 0 and 2^63 - 1", field="seed")
        [job] = submit_pipeline(
            user=user, items=[(req, seed)], trace_id=trace_id, indexed=False, keyed=claim.row is not None
        )
        claim.job, claim.body = job, jsonable(render(job)) if render is not None else None
    submitted_log([job])
    return SubmitResult(job=job, replayed=False, body=claim.body, status_code=201)


def job_submit_batch(
    *,
    user: AbstractBaseUser,
    requests: Sequence[JobRequest | dict[str, Any]],
    traceparent: str | None = None,
    idempotency_key: str | None = None,
    request_sha256: str | None = None,
    render: Callable[[Job], dict[str, Any]] | None = None,
) -> BatchSubmitResult:
    """Submit up to JOB_BATCH_MAX jobs (a parameter sweep) in ONE transaction, all or nothing.

    Each job gets exactly what `job_submit` would give it — its own decision and reasons, fingerprint,
    cache hit or execution, hold, approval request, task, events, audit record and seed — decided in
    request order, so a later job's policy weighs what earlier ones reserved. A refusal of any job
    raises its ServiceError with the field prefixed by its index (`jobs[3].shots`) and writes nothing.
    Lookups are shared and each table is written with one INSERT (see `submit_pipeline`); one trace id for
    the batch. `idempotency_key` covers the whole batch, as for `job_submit`; the stored body is
    `{"jobs": [render(job), ...]}` (default: each job's id; a custom `render` must keep the "id").
    """
    limit = int(settings.JOB_BATCH_MAX)
    if not 1 <= len(requests) <= limit:
        raise Invalid(
            f"a batch holds 1 to {limit} jobs; this one has {len(requests)}",
            field="jobs",
            code="batch_size",
            detail={"limit": limit, "count": len(requests)},
        )
    reqs = []
    for index, request in enumerate(requests):
        with batch_item_naming(index):
            reqs.append(contract_parse(request))
    trace_id = trace_id_from(traceparent)
    body_sha = request_sha256 or request_body_sha256({"jobs": list(requests)})
    with idempotency_scope(user=user, key=idempotency_key, body_sha256=body_sha, route=JOBS_BATCH_ROUTE) as claim:
        if claim.replayed:
            return batch_replay(claim.row)
        jobs = submit_pipeline(
            user=user, items=[(req, None) for req in reqs], trace_id=trace_id, indexed=True, keyed=claim.row is not None
        )
        claim.body = {"jobs": [jsonable(render(job)) if render is not None else {"id": str(job.pk)} for job in jobs]}
    submitted_log(jobs)
    return BatchSubmitResult(jobs=jobs, replayed=False, body=claim.body, status_code=201)


def batch_replay(earlier: IdempotencyKey) -> BatchSubmitResult:
    ids = [str(item["id"]) for item in earlier.response_body["jobs"]]
    found = {str(pk): job for pk, job in Job.objects.in_bulk(ids).items()}
    return BatchSubmitResult(
        jobs=[found[i] for i in ids if i in found],  # a job deleted since (retention) is left out
        replayed=True,
        body=earlier.response_body,
        status_code=earlier.response_status,
    )


def submitted_log(jobs: Sequence[Job]) -> None:
    for job in jobs:
        logger.info(
            "job submitted",
            extra={"job_id": str(job.pk), "trace_id": job.trace_id, "status": job.status, "backend": job.backend},
        )


@contextmanager
def batch_item_naming(index: int | None) -> Iterator[None]:
    """A refusal inside names the batch item it is about: `jobs[3].shots`, or `jobs[3]` where it names
    no field. `None`: a single submission, named as it is."""
    try:
        yield
    except ServiceError as exc:
        if index is not None:
            exc.field = f"jobs[{index}]" + (f".{exc.field}" if exc.field else "")
        raise


def submit_pipeline(
    *,
    user: AbstractBaseUser,
    items: Sequence[tuple[JobRequest, int | None]],
    trace_id: str,
    indexed: bool,
    keyed: bool = False,
) -> list[Job]:
    """Jobs for (request, seed) items — one for `job_submit`, many for `job_submit_batch` — in three
    steps, the writes in one transaction (`keyed`: the Idempotency-Key's, else its own; the reads need
    none: each sees what is committed, as in a READ COMMITTED transaction):

    1. `plans_draft`: every request validated, assembled and given a backend;
    2. `jobs_prepare`: in request order, each checked and its money taken;
    3. `jobs_insert`: each table written once for all the jobs.

    Lookups (experiments, classes, budgets, prices, run records) are read once per distinct question.
    A refusal raises the ServiceError of its job (`indexed`: named `jobs[i]…`); the rollback takes back
    what earlier jobs reserved. A seed of None is derived from the job's id."""
    submission = Submission(user, single=len(items) == 1)
    job_ids = [uuid.uuid4() for _ in items]
    with policy.shared_reads():
        plans = plans_draft(submission, items, job_ids, indexed=indexed)
        with nullcontext() if keyed else transaction.atomic():
            prepared = jobs_prepare(submission, plans, job_ids, trace_id=trace_id, indexed=indexed)
            return jobs_insert(submission, prepared)


def plans_draft(
    submission: Submission,
    items: Sequence[tuple[JobRequest, int | None]],
    job_ids: Sequence[uuid.UUID],
    *,
    indexed: bool,
) -> list[Plan]:
    """Every request validated, assembled and given a backend (`plan_draft`); a batch then reads the
    cache for all of them in one query. Reads only."""
    plans: list[Plan] = []
    for index, ((req, seed), job_id) in enumerate(zip(items, job_ids, strict=True)):
        with batch_item_naming(index if indexed else None):
            plans.append(plan_draft(submission, req, seed=seed_for(job_id) if seed is None else seed))
    if len(plans) > 1:
        submission.read_cached(plans)
    else:  # one job's checks only read: settled before its transaction begins
        with batch_item_naming(0 if indexed else None):
            plan_check(submission, plans[0])
    return plans


def jobs_prepare(
    submission: Submission,
    plans: Sequence[Plan],
    job_ids: Sequence[uuid.UUID],
    *,
    trace_id: str,
    indexed: bool,
) -> list[PreparedJob]:
    """In request order, each job checked (`plan_check`: cache, tier, ceiling, approval) and its money
    taken (`job_prepare`: the budget's reservation, the only check that can still refuse)."""
    prepared: list[PreparedJob] = []
    for index, (plan, job_id) in enumerate(zip(plans, job_ids, strict=True)):
        with batch_item_naming(index if indexed else None):
            if len(plans) > 1:  # in request order: a job's checks weigh what earlier ones reserved
                plan_check(submission, plan)
            prepared.append(job_prepare(submission, plan, job_id=job_id, trace_id=trace_id))
    return prepared


def job_prepare(submission: Submission, plan: Plan, *, job_id: uuid.UUID, trace_id: str) -> PreparedJob:
    """The job's money, taken before its row is written (BudgetExceeded, or parked for a sign-off in a
    class that parks over-budget jobs), and its unsaved row with the first status it starts in."""
    user = submission.user
    if plan.cached is not None:
        job = job_build(job_id=job_id, user=user, plan=plan, trace_id=trace_id, **cached_result_fields(plan.cached))
        now = timezone.now()
        start = lifecycle.Start(
            JobStatus.SUCCEEDED,
            reason=f"served from cache of {job.cached_from_id}",
            data={"cached_from": str(job.cached_from_id)},
            stages=plan.stages,
            fields={"started_at": now, "finished_at": now},
        )  # costs nothing and is never enqueued
        return PreparedJob(job=job, start=start, plan=plan, holds=False, approval_reasons=[])
    parked = budget_reserve_or_park(plan)
    if not parked:
        submission.reserved[plan.budget.pk] += plan.cost_micros
    reasons = plan.approval_reasons + ([parked] if parked else [])
    job = job_build(job_id=job_id, user=user, plan=plan, trace_id=trace_id, seed=plan.seed)
    note = failover_note(plan.decision)
    if reasons:
        start = lifecycle.Start(
            JobStatus.AWAITING_APPROVAL,
            reason=note or "needs approval: " + "; ".join(reasons),
            stages=plan.stages,
            fields={"needs_approval": True},
        )
    else:
        start = lifecycle.Start(
            JobStatus.QUEUED,
            reason=note or "queued",
            stages=plan.stages,
            fields={"needs_approval": False, "queued_at": timezone.now()},
        )
    return PreparedJob(job=job, start=start, plan=plan, holds=not parked, approval_reasons=reasons)


def jobs_insert(submission: Submission, admitted: Sequence[PreparedJob]) -> list[Job]:
    """Each table once for all the jobs — the jobs in their first status with their events, the holds
    with their ledger entries, the audit records and the queued jobs' tasks (the clusters are woken at
    commit) — then the approval requests (approvers mailed on commit). The caller's transaction makes
    them one: a failure anywhere leaves none of them."""
    user = submission.user
    jobs, events = lifecycle.new_rows([(a.job, a.start) for a in admitted], actor=user)
    held = [(a.job, a.plan.budget, a.plan.cost_micros) for a in admitted if a.holds]
    audit = budget_services.audit_rows(
        action="job.submit",
        actor=user,
        events=[(a.job.team, f"job:{a.job.pk}", submit_audit_detail(a)) for a in admitted],
    )
    Job.objects.bulk_create(jobs)
    JobEvent.objects.bulk_create(events)
    if held:
        budget_services.write_holds(*budget_services.hold_rows(holds=held, actor=user))
    AuditEvent.objects.bulk_create(audit)
    queued = [job for job in jobs if job.status == JobStatus.QUEUED]
    if queued:
        enqueue_queued(*queued)
    waiting = [(a.job, a.approval_reasons) for a in admitted if a.approval_reasons]
    if waiting:
        approvals.approvals_open_new(waiting)
        by_team: dict[int, list[tuple[Job, list[str]]]] = {}
        for job, reasons in waiting:
            by_team.setdefault(job.team_id, []).append((job, reasons))
        for team_waiting in by_team.values():
            approvers_notify_of_batch(team_waiting, submission.approver_emails(team_waiting[0][0]))
    return jobs


def submit_audit_detail(a: PreparedJob) -> dict[str, Any]:
    job = a.job
    return jsonable(
        {
            "status": job.status,
            "backend": job.backend,
            "tier": job.tier,
            "cost_micros": a.plan.cost_micros,
            "cached_from": job.cached_from_id,
            "trace_id": job.trace_id,
        }
    )


def failover_note(decision: policy.Decision) -> str:
    """The event reason of a job whose pinned backend is unavailable: the choice made and the other."""
    if not decision.failover:
        return ""
    others = [a for a in decision.alternatives if a["action"] != decision.failover]
    offer = "; ".join(f"{a['action'].replace('_', ' ')}: {a.get('backend', '')}" for a in others)
    return f"{decision.reasons[-1]}" + (f" (alternative — {offer})" if offer else "")


def job_build(*, job_id: uuid.UUID, user: AbstractBaseUser, plan: Plan, trace_id: str, **fields: Any) -> Job:
    """The job, not yet saved (`jobs_insert` saves it in its first status, see `lifecycle.new_rows`);
    `fields` adds the seed and, for a cache hit, the copied result."""
    req, d = plan.request, plan.decision
    if "calibration" not in fields:
        fields["calibration"] = backend_calibration(d.backend_id)
    return Job(
        id=job_id,
        team=plan.experiment.team,
        experiment=plan.experiment,
        experiment_class=plan.experiment_class,
        submitted_by=user,
        schema_version=req.schema_version,
        family=plan.family_name,
        family_version=plan.parsed.family_version,
        params=plan.parsed.params_json,
        objective=req.objective,
        shots=req.shots,
        max_tier=req.max_tier,
        backend_pin=req.backend or "",
        priority=req.priority,
        labels=list(req.labels),
        budget_ceiling_micros=to_micros(req.budget_ceiling) if req.budget_ceiling is not None else None,
        no_cache=req.no_cache,
        status=JobStatus.SUBMITTED,
        backend=d.backend_id,
        tier=d.tier,
        emulated=d.emulated,
        policy_reasons=list(d.reasons),
        estimate=jsonable({**d.estimate, "reasons": list(d.reasons), "cost_micros": plan.cost_micros}),
        needs_approval=bool(plan.approval_reasons),
        circuit=PreEncoded(plan.circuit.to_json(), plan.circuit.canonical),
        n_qubits=plan.circuit.n_qubits,
        fingerprint=plan.fingerprint,
        sdk_versions=plan.versions,
        trace_id=trace_id,
        **fields,
    )


def cached_result_fields(source: Job) -> dict[str, Any]:
    """What a cache hit copies from the job that ran: written with the new row, so that the transition
    to succeeded does not rewrite the (large) counts."""
    origin_id = source.cached_from_id or source.pk
    return {
        "cached_from_id": origin_id,
        "counts": source.counts,
        "result_meta": {**(source.result_meta or {}), "cached_from": str(origin_id)},
        "metrics": source.metrics,
        "calibration": source.calibration,
        "seed": source.seed,  # the counts were drawn with the source's seed
        "cost_micros": 0,
    }
