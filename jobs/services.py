"""All writes to jobs: submit (with quote, cache and idempotency), lifecycle controls and approvals.

Rules every function here keeps:

* One `transaction.atomic()` per user action (a submission's too: see `_writing`). Every status
  change goes through
  `jobs.lifecycle.transition` (a conditional UPDATE plus a JobEvent with actor and reason).
* Controls lock the job row first (`select_for_update`, or the transition's UPDATE as the first write),
  then the approval, then the hold and the budget — one lock order, so two actions on the same job
  queue behind each other instead of deadlocking.
* The task of a queued job is written in the action's transaction (the ORM broker's row commits and
  rolls back with the job); other side effects (e-mail, vendor cancel) run in `transaction.on_commit`.
  A rolled-back action never enqueues or mails anything.
* Permissions: any member of the job's team (researcher, approver, admin) may submit, pause, resume,
  cancel, reroute and rerun the team's jobs — a team shares its queue. Only approvers and admins other
  than the submitter may decide an approval. Another team's job is NotFound, never Forbidden.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from adapters import ir, registry
from adapters.versions import sdk_versions
from budgets import selectors as budget_selectors
from budgets import services as budget_services
from budgets.errors import BudgetExceeded, Conflict, Forbidden, Invalid, NotFound, ServiceError
from budgets.models import AuditEvent, Budget, ExperimentClass, Hold, HoldStatus, Membership
from budgets.money import format_money, to_micros
from jobs import approvals, controls, lifecycle, policy, rerun, selectors
from jobs.contract import ContractError, JobRequest, ParsedJob, parse_job_request, resolve_job_request
from jobs.lifecycle import transition
from jobs.models import (
    Approval,
    ApprovalStatus,
    DataClassification,
    Experiment,
    IdempotencyKey,
    Job,
    JobEvent,
    JobStatus,
    PreEncoded,
    Stage,
)
from jobs.queueing import enqueue_jobs
from jobs.request_identity import request_sha256

logger = logging.getLogger(__name__)

JOBS_ROUTE = "/api/v1/jobs"
JOBS_BATCH_ROUTE = "/api/v1/jobs/batch"
NON_TERMINAL = [
    JobStatus.SUBMITTED,
    JobStatus.AWAITING_APPROVAL,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.PAUSED,
]
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


# --- results ---------------------------------------------------------------------------------------
@dataclass
class Quote:
    """What a submission would do, with nothing created."""

    backend: str
    tier: int
    emulated: bool
    reasons: list[str]
    cost_micros: int
    seconds: float
    needs_approval: bool
    approval_reasons: list[str]
    budget_remaining_micros: int
    currency: str
    n_qubits: int
    fingerprint: str
    cached_from: uuid.UUID | None
    estimate: dict[str, Any] = field(default_factory=dict)  # what Job.estimate would hold
    within_budget: bool = True


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
class _Plan:
    """Everything validate → assemble → select decided for one request, before anything is written."""

    request: JobRequest
    experiment: Experiment
    experiment_class: ExperimentClass
    budget: Budget
    parsed: ParsedJob
    seed: int | None
    stages: list[tuple[str, datetime, datetime, dict[str, Any]]]
    select_started: datetime
    select_seconds: float = 0.0
    # None only between a batch's two passes, when the budget looked too small for this job but earlier
    # jobs of the batch may still turn out cheaper (cache hits) than the first pass assumed.
    decision: policy.Decision | None = None
    remaining: int | None = None  # what the policy saw left of the budget (None: it weighed none)
    fingerprint: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    cached: Job | None = None
    approval_reasons: list[str] = field(default_factory=list)

    @property
    def circuit(self) -> ir.Circuit:
        return self.parsed.circuit

    @property
    def family_name(self) -> str:
        return self.parsed.family.name

    @property
    def cost_micros(self) -> int:
        return 0 if self.cached or self.decision is None else self.decision.cost_micros

    def fingerprint_for(self, backend_id: str) -> None:
        """Set the fingerprint of this job on `backend_id`, over the installed SDK versions."""
        self.versions = sdk_versions()
        self.fingerprint = ir.fingerprint(
            self.circuit, shots=self.request.shots, backend=backend_id, sdk_versions=self.versions
        )


@dataclass
class _Admitted:
    """A job decided and paid for, its row built in its first status: what `_write` inserts."""

    job: Job
    start: lifecycle.Start
    plan: _Plan
    holds: bool  # it holds its estimate (it is neither a cache hit nor parked over budget)
    approval_reasons: list[str]


# --- small helpers ---------------------------------------------------------------------------------
def trace_id_from(traceparent: str | None) -> str:
    """The trace id of a valid W3C traceparent header, else a new random 32-hex id."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if match:
        version, trace_id, parent_id = match.group(1), match.group(2), match.group(3)
        if version != "ff" and trace_id != "0" * 32 and parent_id != "0" * 16:
            return trace_id
    return secrets.token_hex(16)


def request_body_sha256(request: JobRequest | dict[str, Any]) -> str:
    """SHA-256 of the contract a request body means (`jobs.request_identity`): an explicit default,
    another key order or "12.50" for "12.5" is the same request; a body may be a batch's `{"jobs": [...]}`."""
    return request_sha256(request)


def seed_for(job_id: uuid.UUID) -> int:
    """A job's sampling seed, derived from its id so a re-run months later draws the same shots."""
    return job_id.int % (2**31 - 1)


def _invalid(exc: ContractError) -> Invalid:
    detail = exc.errors or None  # every refused field, each with its message
    return Invalid(exc.message, field=exc.field, code=None if exc.code == "invalid" else exc.code, detail=detail)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def enqueue_queued(*jobs: Job) -> None:
    """Hand jobs that have just become queued to the workers, in the caller's transaction.

    With the ORM broker the task rows commit together with the jobs' queued status: a worker never
    sees a task for a job it cannot see, a rollback leaves no task behind, and a crash between the
    commit and the enqueue cannot lose a job (see `jobs.tasks.enqueue_job`; several jobs at once go
    in one INSERT per cluster, `jobs.tasks.enqueue_jobs`)."""
    enqueue_jobs(jobs)


def _mail_later(subject: str, body: str, recipients: list[str]) -> None:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return

    def send() -> None:
        try:
            send_mail(subject, body, None, recipients)
        except Exception:
            logger.exception("could not send %r to %s", subject, recipients)

    transaction.on_commit(send)


def _link(name: str, *args: Any) -> str:
    """A page's address for an e-mail: PORTAL_URL + its path."""
    return settings.PORTAL_URL + reverse(name, args=args)


def _job_url(job: Job) -> str:
    return _link("job_detail", job.pk)


def _approver_emails(job: Job) -> list[str]:
    approvers = budget_selectors.approvers_for_team(job.team).exclude(pk=job.submitted_by_id)
    return [u.email for u in approvers]


def _notify_approvers(job: Job, reasons: list[str], emails: list[str] | None = None) -> None:
    """Mail the team's approvers (but the submitter) about a job awaiting sign-off; `emails`: theirs,
    when already read."""
    _mail_later(
        f"[Hybrid Portal] approval needed: {job.family} job {str(job.pk)[:8]} on {job.backend}",
        f"{job.submitted_by} submitted a job that needs your sign-off.\n\n"
        f"Backend: {job.backend} (tier {job.tier})\nEstimate: {format_money(job.estimate.get('cost_micros'))}\n"
        f"Why: {'; '.join(reasons)}\n\nDecide at {_job_url(job)}\n",
        _approver_emails(job) if emails is None else emails,
    )


# A batch's digest lists this many jobs; the approvals page has them all.
DIGEST_LISTED = 20


def _notify_approvers_of_batch(waiting: Sequence[tuple[Job, list[str]]], emails: list[str]) -> None:
    """One mail for a batch's jobs of one team awaiting sign-off (a sweep of 100 is one message, not
    100): how many, their total estimate, the first DIGEST_LISTED with their reasons, and where to
    decide."""
    if len(waiting) == 1:
        _notify_approvers(*waiting[0], emails)
        return
    first = waiting[0][0]
    total = sum(int(job.estimate.get("cost_micros") or 0) for job, _ in waiting)
    lines = [
        f"- {job.family} job {str(job.pk)[:8]} on {job.backend} (tier {job.tier}), "
        f"{format_money(job.estimate.get('cost_micros'))}: {'; '.join(reasons)}\n  {_job_url(job)}"
        for job, reasons in waiting[:DIGEST_LISTED]
    ]
    if len(waiting) > DIGEST_LISTED:
        lines.append(f"… and {len(waiting) - DIGEST_LISTED} more.")
    _mail_later(
        f"[Hybrid Portal] approval needed: {len(waiting)} jobs from {first.submitted_by}",
        f"{first.submitted_by} submitted {len(waiting)} jobs in one batch that need your sign-off.\n"
        f"Estimate in total: {format_money(total)}\n\n" + "\n".join(lines) + f"\n\nDecide at {_link('approvals')}\n",
        emails,
    )


def _notify_submitter(job: Job, decision: str, decided_by: AbstractBaseUser, comment: str) -> None:
    _mail_later(
        f"[Hybrid Portal] your job {str(job.pk)[:8]} was {decision}",
        f"{decided_by} {decision} your {job.family} job on {job.backend}."
        + (f"\n\nComment: {comment}" if comment else "")
        + f"\n\n{_job_url(job)}\n",
        [job.submitted_by.email],
    )


def _illegal(job_id: object, verb: str) -> Conflict:
    current = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    return Conflict(f"job is {current}; it cannot be {verb}", code="illegal_transition", detail={"status": current})


def _audit(action: str, *, user: AbstractBaseUser, job: Job, **detail: Any) -> None:
    budget_services.audit_record(
        action=action, actor=user, team=job.team, target=f"job:{job.pk}", detail=_jsonable(detail)
    )


# --- experiments ---------------------------------------------------------------------------------
def experiment_create(
    *,
    user: AbstractBaseUser,
    team: str,
    name: str,
    description: str = "",
    experiment_class: str | None = None,
    data_classification: str = DataClassification.INTERNAL,
    retention_days: int = 365,
) -> Experiment:
    """A new experiment in one of the user's teams (any member may create one).

    `team` and `experiment_class` are slugs. Another team is NotFound (field "team"), an unknown class
    Invalid, a name the team already uses Conflict (field "name"; the unique constraint decides races).
    """
    team_row = budget_selectors.teams_for_user(user).filter(slug=team).first()
    if team_row is None:
        raise NotFound(f"team {team!r} not found", field="team")
    klass = None
    if experiment_class:
        klass = ExperimentClass.objects.filter(slug=experiment_class).first()
        if klass is None:
            valid = ", ".join(ExperimentClass.objects.values_list("slug", flat=True))
            raise Invalid(f"unknown experiment class {experiment_class!r}; valid: {valid}", field="experiment_class")
    if data_classification not in DataClassification.values:
        raise Invalid(f"must be one of {', '.join(DataClassification.values)}", field="data_classification")
    try:
        with transaction.atomic():
            experiment = Experiment.objects.create(
                team=team_row,
                name=name.strip(),
                description=description,
                experiment_class=klass,
                data_classification=data_classification,
                retention_days=retention_days,
                created_by=user,
            )
            budget_services.audit_record(
                action="experiment.create",
                actor=user,
                team=team_row,
                target=f"experiment:{experiment.pk}",
                detail={"name": experiment.name, "experiment_class": experiment_class},
            )
    except IntegrityError:
        raise Conflict(f"team {team} already has an experiment named {name.strip()!r}", field="name") from None
    return experiment


# --- validate → assemble → select ------------------------------------------------------------------
def _coerce(request: JobRequest | dict[str, Any]) -> JobRequest:
    if isinstance(request, JobRequest):
        return request
    try:
        return parse_job_request(request)
    except ContractError as exc:
        raise _invalid(exc) from None


def _experiment_for(user: AbstractBaseUser, experiment_id: int) -> Experiment:
    try:
        return selectors.experiment_get_for_user(user, experiment_id)
    except NotFound:
        raise NotFound(f"experiment {experiment_id} not found", field="experiment") from None


def _class_for(req: JobRequest, experiment: Experiment) -> ExperimentClass:
    """The experiment's class pays: a request may restate it, never choose another budget."""
    klass = experiment.experiment_class
    if klass is None:
        raise Invalid(f"experiment {experiment.name!r} has no class; ask a team admin to set one", field="experiment")
    if req.experiment_class and req.experiment_class != klass.slug:
        raise Invalid(
            f"experiment_class must be the experiment's class, {klass.slug!r}, or be left out; "
            f"{req.experiment_class!r} is not it",
            field="experiment_class",
        )
    return klass


def _budget_for(experiment: Experiment, klass: ExperimentClass) -> Budget:
    budget = budget_selectors.budget_for(team=experiment.team, experiment_class=klass)
    if budget is None:
        raise Invalid(
            f"team {experiment.team.slug} has no budget for {klass.slug}; ask a team admin",
            field="experiment_class",
            code="no_budget",
        )
    return budget


class _Submission:
    """What one submission — a job, or a batch of them — reads once and shares between its jobs: the
    experiments, classes and budgets (one Budget per team and class, whatever the experiment), cached
    results and approvers; and the money its jobs take, so the policy of a later job weighs only what
    is left of the budget."""

    def __init__(self, user: AbstractBaseUser, *, single: bool = True) -> None:
        self.user = user
        self.single = single  # one job: no batch-wide cache read follows its drafts
        self._experiments: dict[int, Experiment] = {}
        self._budgets: dict[tuple[int, int], Budget] = {}
        self._cached: dict[tuple[int, str], Job | None] = {}
        self._approvers: dict[int, list[str]] = {}
        self.planned: Counter[int] = Counter()  # budget pk → what the first pass expects the jobs to reserve
        self.reserved: Counter[int] = Counter()  # budget pk → what the jobs have reserved

    def experiment(self, experiment_id: int) -> Experiment:
        if experiment_id not in self._experiments:
            self._experiments[experiment_id] = _experiment_for(self.user, experiment_id)
        return self._experiments[experiment_id]

    def experiment_class(self, req: JobRequest, experiment: Experiment) -> ExperimentClass:
        return _class_for(req, experiment)  # the experiment's own, read with it

    def budget(self, experiment: Experiment, klass: ExperimentClass) -> Budget:
        key = (experiment.team_id, klass.pk)
        if key not in self._budgets:
            self._budgets[key] = _budget_for(experiment, klass)
        return self._budgets[key]

    def remaining(self, req: JobRequest, budget: Budget, taken: Counter[int]) -> int | None:
        """What is left of `budget` once this submission's jobs took `taken`, for the policy to weigh;
        None where it weighs none: a pinned backend, or a class that parks over-budget jobs (it sees
        every backend)."""
        if req.backend or budget.experiment_class.park_over_budget:
            return None
        return budget.remaining_micros - taken[budget.pk]

    def read_cached(self, plans: Sequence[_Plan]) -> None:
        """The cached results of every plan that may use one, in one query."""
        keys = {(p.experiment.team_id, p.fingerprint) for p in plans if p.decision and not p.request.no_cache}
        found = selectors.cached_results_for(keys)
        self._cached.update({key: found.get(key) for key in keys})

    def cached(self, team: Any, fingerprint: str) -> Job | None:
        key = (team.pk, fingerprint)
        if key not in self._cached:
            self._cached[key] = selectors.cached_result_for(team=team, fingerprint=fingerprint)
        return self._cached[key]

    def approver_emails(self, job: Job) -> list[str]:
        if job.team_id not in self._approvers:
            self._approvers[job.team_id] = _approver_emails(job)
        return self._approvers[job.team_id]


def _plan(user: AbstractBaseUser, req: JobRequest) -> _Plan:
    """Validate, assemble, select and check one request: what submitting it would do. Writes nothing."""
    submission = _Submission(user)
    plan = _draft(submission, req, seed=None)
    _settle(submission, plan)
    return plan


def _draft(submission: _Submission, req: JobRequest, *, seed: int | None) -> _Plan:
    """Validate, assemble and select for one request (a submission's first pass; `_settle` checks the
    cache, tier, ceiling and approval rules next); raises the ServiceError a refusal deserves. Writes
    nothing: the timed stages are recorded once the job row exists."""
    stages: list[tuple[str, datetime, datetime, dict[str, Any]]] = []

    started = timezone.now()
    experiment = submission.experiment(req.experiment)
    klass = submission.experiment_class(req, experiment)
    budget = submission.budget(experiment, klass)
    try:
        parsed = resolve_job_request(req)
    except ContractError as exc:
        raise _invalid(exc) from None
    stages.append((Stage.VALIDATE, started, timezone.now(), {"family": parsed.family.name}))

    started = timezone.now()
    circuit = parsed.circuit
    stages.append((Stage.ASSEMBLE, started, timezone.now(), {"n_qubits": circuit.n_qubits, "ops": len(circuit.ops)}))

    plan = _Plan(
        request=req,
        experiment=experiment,
        experiment_class=klass,
        budget=budget,
        parsed=parsed,
        seed=seed,
        stages=stages,
        select_started=timezone.now(),
    )
    # The first pass expects every earlier job of the batch to run and reserve its estimate; where one
    # is served from the cache instead, `_settle` decides again with what is really left.
    taken = submission.planned
    remaining = submission.remaining(req, budget, taken)
    if not _pinned_cache_hit(submission, plan, remaining):
        _choose(plan, remaining, may_wait=taken[budget.pk] > 0)
    taken[budget.pk] += plan.cost_micros
    plan.select_seconds = (timezone.now() - plan.select_started).total_seconds()
    return plan


def _pinned_cache_hit(submission: _Submission, plan: _Plan, remaining: int | None) -> bool:
    """A single pinned submission: the pin fixes the fingerprint before the policy runs, so a cache hit
    is decided without an estimate (price, run records, breaker: nothing will run). True when it is one.
    A batch reads the cache for all its jobs in one query instead."""
    req = plan.request
    if not submission.single or not req.backend or req.no_cache:
        return False
    caps = policy.pinned_capabilities(plan.circuit, pin=req.backend, max_tier=req.max_tier)
    plan.fingerprint_for(req.backend)
    if submission.cached(plan.experiment.team, plan.fingerprint) is None:  # remembered for `_settle`
        return False
    plan.decision, plan.remaining = policy.served_from_cache(caps), remaining
    return True


def _choose(plan: _Plan, remaining: int | None, *, may_wait: bool = False) -> None:
    """The policy's decision for `plan` with `remaining` left of the budget, and the fingerprint that
    follows. `may_wait`: when only the budget stands in the way, leave the decision to `_settle`."""
    try:
        plan.decision = _select(
            req=plan.request,
            parsed=plan.parsed,
            budget=plan.budget,
            team=plan.experiment.team,
            seed=plan.seed,
            remaining=remaining,
        )
    except BudgetExceeded:
        if not may_wait:
            raise
        plan.decision = None
    plan.remaining = remaining
    if plan.decision is not None:
        plan.fingerprint_for(plan.decision.backend_id)


def _settle(submission: _Submission, plan: _Plan) -> None:
    """A submission's second pass for one plan, in request order: the backend chosen again where the
    budget left differs from what the first pass expected, then the cache; a job that will run is
    checked against the budget's tiers, its ceiling and the approval rules. Raises the ServiceError a
    refusal deserves. Its select stage times its own work in both passes."""
    started = timezone.now()
    req, budget = plan.request, plan.budget
    remaining = submission.remaining(req, budget, submission.reserved)
    if plan.decision is None or remaining != plan.remaining:
        _choose(plan, remaining)
    decision = plan.decision
    cached = None if req.no_cache else submission.cached(plan.experiment.team, plan.fingerprint)
    if cached is None:
        budget_services.check_tier_allowed(budget=budget, tier=decision.tier)
        _check_ceiling(req, decision.cost_micros)
        plan.approval_reasons = budget_services.approval_reasons(
            budget=budget, experiment_class=plan.experiment_class, tier=decision.tier, cost_micros=decision.cost_micros
        )
    else:
        decision.reasons.insert(0, f"served from cache of {cached.pk} (identical circuit, shots and backend)")
    plan.cached = cached
    ended = plan.select_started + timedelta(seconds=plan.select_seconds) + (timezone.now() - started)
    plan.stages.append(
        (Stage.SELECT, plan.select_started, ended, {"backend": decision.backend_id, "cache_hit": cached is not None})
    )


def _select(
    *, req: JobRequest, parsed: ParsedJob, budget: Budget, team: Any, seed: int | None, remaining: int | None
) -> policy.Decision:
    """The policy's choice, weighing `remaining` of the budget (None: every backend, see
    `_Submission.remaining`). Unpinned, it stays inside the budget's tiers too; a pin is checked against
    the request's max_tier here and against the budget's by `check_tier_allowed`, which says why."""
    max_tier = req.max_tier if req.backend else min(req.max_tier, budget.max_tier)
    decision = policy.select_backend(
        circuit=parsed.circuit,
        family=parsed.family.name,
        shots=req.shots,
        max_tier=max_tier,
        backend_pin=req.backend,
        priority=req.priority,
        budget_remaining_micros=remaining,
        prefers_noise=parsed.family.prefers_noise,
        team=team,
        seed=seed,
    )
    if max_tier < req.max_tier:
        decision.reasons.append(f"the {budget.experiment_class.slug} budget allows tiers up to {budget.max_tier}")
    return decision


def _check_ceiling(req: JobRequest, cost_micros: int) -> None:
    if req.budget_ceiling is None:
        return
    ceiling = to_micros(req.budget_ceiling)
    if cost_micros > ceiling:
        raise Invalid(
            f"the estimate {format_money(cost_micros)} is above this job's ceiling {format_money(ceiling)}",
            field="budget_ceiling",
            code="over_budget_ceiling",
            detail={"estimate_micros": cost_micros, "ceiling_micros": ceiling},
        )


# --- quote -----------------------------------------------------------------------------------------
def job_quote(*, user: AbstractBaseUser, request: JobRequest | dict[str, Any]) -> Quote:
    """What submitting `request` would do — backend and why, cost, time, approval — creating nothing.

    Raises the errors a submission would (Invalid naming the field, NotFound for another team's
    experiment, Forbidden for a tier the budget does not allow) — except that an estimate above what
    is left of the budget is answered, with `within_budget=False` and a reason saying so, so the user
    sees the price before the refusal."""
    plan = _plan(user, _coerce(request))
    d = plan.decision
    remaining = plan.budget.remaining_micros
    reasons = list(d.reasons)
    approval_reasons = list(plan.approval_reasons)
    if plan.cost_micros > remaining:
        parks = plan.experiment_class.park_over_budget
        over = (
            f"the estimate {format_money(plan.cost_micros)} is more than the {format_money(max(remaining, 0))} "
            f"left in the budget: a submission would be {'parked for approval' if parks else 'refused'}"
        )
        reasons.append(over)
        if parks:
            approval_reasons.append(over)
    return Quote(
        backend=d.backend_id,
        tier=d.tier,
        emulated=d.emulated,
        reasons=reasons,
        cost_micros=plan.cost_micros,
        seconds=0.0 if plan.cached else d.seconds,
        needs_approval=bool(approval_reasons),
        approval_reasons=approval_reasons,
        budget_remaining_micros=remaining,
        currency=settings.CURRENCY,
        n_qubits=plan.circuit.n_qubits,
        fingerprint=plan.fingerprint,
        cached_from=(plan.cached.cached_from_id or plan.cached.pk) if plan.cached else None,
        estimate={**d.estimate, "reasons": reasons, "cost_micros": plan.cost_micros},
        within_budget=plan.cost_micros <= remaining,
    )


# --- idempotency -----------------------------------------------------------------------------------
def _idempotency_ttl() -> timedelta:
    return timedelta(hours=max(24, int(getattr(settings, "IDEMPOTENCY_TTL_HOURS", 24))))


@transaction.atomic
def _claim_key(*, user: AbstractBaseUser, key: str, body_sha256: str, route: str) -> IdempotencyKey:
    """Insert the key row (savepoint). Must run inside the submit's transaction.

    Race: the unique constraint decides. On PostgreSQL a second INSERT of the same key waits for the
    first transaction; if that commits, ours fails with IntegrityError and the caller reads the winner
    (replay); if it rolls back, ours succeeds. The wait is capped by IDEMPOTENCY_WAIT_SECONDS, after
    which the first request counts as in flight (409). SQLite serialises whole write transactions.
    """
    now = timezone.now()
    with _lock_timeout(float(getattr(settings, "IDEMPOTENCY_WAIT_SECONDS", 10))):
        return IdempotencyKey.objects.create(
            user=user,
            method="POST",
            route=route,
            key=key,
            body_sha256=body_sha256,
            expires_at=now + _idempotency_ttl(),
        )


class _lock_timeout:  # noqa: N801 - used as a context manager
    """`SET LOCAL lock_timeout` for one statement on PostgreSQL, restored afterwards."""

    def __init__(self, seconds: float) -> None:
        self.ms = int(seconds * 1000)
        self.old: str | None = None

    def __enter__(self) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT current_setting('lock_timeout')")
                self.old = cur.fetchone()[0]
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [f"{self.ms}ms"])

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self.old is not None and exc_type is None:
            with connection.cursor() as cur:
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [self.old])


def _idempotency_begin(
    *, user: AbstractBaseUser, key: str, body_sha256: str, route: str
) -> tuple[IdempotencyKey, bool]:
    """Claim the key for this request: (the new row, False); or (the earlier request's row, True),
    whose stored answer is the reply."""
    if not _IDEMPOTENCY_KEY.match(key):
        raise Invalid("must be 1–255 printable ASCII characters", field="Idempotency-Key")
    scope = {"user": user, "method": "POST", "route": route, "key": key}
    IdempotencyKey.objects.filter(**scope, expires_at__lte=timezone.now()).delete()
    try:
        return _claim_key(user=user, key=key, body_sha256=body_sha256, route=route), False
    except IntegrityError:
        pass
    except OperationalError:
        raise _in_flight(key) from None
    earlier = IdempotencyKey.objects.select_related("job").filter(**scope).first()
    if earlier is None:  # the first request rolled back between our INSERT and this read
        raise _in_flight(key)
    if earlier.body_sha256 != body_sha256:
        raise Invalid(
            "this Idempotency-Key was used with a different request body; use a new key for a new request",
            field="Idempotency-Key",
            code="idempotency_mismatch",
        )
    if earlier.response_status is None:
        raise _in_flight(key)
    return earlier, True


@dataclass
class _Claim:
    """A submission's Idempotency-Key: `row` is the claimed key, or with `replayed` the earlier
    request's, whose stored answer is the reply. The submission sets `job` and `body`, its answer."""

    row: IdempotencyKey | None = None
    replayed: bool = False
    job: Job | None = None
    body: dict[str, Any] | None = None


@contextmanager
def _idempotent(*, user: AbstractBaseUser, key: str | None, body_sha256: str, route: str) -> Iterator[_Claim]:
    """With an Idempotency-Key, the submission's one transaction, the key claimed first; the answer the
    submission leaves in the claim is stored with the key, for replays, as the block ends. Without
    one, the submission's writes take their own transaction (`_submit`)."""
    if key is None:
        yield _Claim()
        return
    with transaction.atomic():
        claim = _Claim()
        claim.row, claim.replayed = _idempotency_begin(user=user, key=key, body_sha256=body_sha256, route=route)
        yield claim
        if not claim.replayed:
            claim.row.job, claim.row.response_status, claim.row.response_body = claim.job, 201, claim.body
            claim.row.save(update_fields=["job", "response_status", "response_body"])


def _in_flight(key: str) -> Conflict:
    return Conflict(
        "a request with this Idempotency-Key is still being processed; retry shortly",
        field="Idempotency-Key",
        code="idempotency_in_flight",
    )


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete expired idempotency keys (kept ≥ 24 h); returns how many. Safe to run any time."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


# --- submit ----------------------------------------------------------------------------------------
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
    req = _coerce(request)
    trace_id = trace_id_from(traceparent)
    body_sha = request_sha256 or request_body_sha256(request)
    with _idempotent(user=user, key=idempotency_key, body_sha256=body_sha, route=JOBS_ROUTE) as claim:
        if claim.replayed:
            earlier = claim.row
            return SubmitResult(
                job=earlier.job, replayed=True, body=earlier.response_body, status_code=earlier.response_status
            )
        if seed is not None and not 0 <= seed < 2**63:
            raise Invalid("seed must be between 0 and 2^63 - 1", field="seed")
        [job] = _submit(user=user, items=[(req, seed)], trace_id=trace_id, indexed=False, keyed=claim.row is not None)
        claim.job, claim.body = job, _jsonable(render(job)) if render is not None else None
    _log_submitted([job])
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
    Lookups are shared and each table is written with one INSERT (see `_submit`); one trace id for
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
        with _naming_item(index):
            reqs.append(_coerce(request))
    trace_id = trace_id_from(traceparent)
    body_sha = request_sha256 or request_body_sha256({"jobs": list(requests)})
    with _idempotent(user=user, key=idempotency_key, body_sha256=body_sha, route=JOBS_BATCH_ROUTE) as claim:
        if claim.replayed:
            return _batch_replay(claim.row)
        jobs = _submit(
            user=user, items=[(req, None) for req in reqs], trace_id=trace_id, indexed=True, keyed=claim.row is not None
        )
        claim.body = {"jobs": [_jsonable(render(job)) if render is not None else {"id": str(job.pk)} for job in jobs]}
    _log_submitted(jobs)
    return BatchSubmitResult(jobs=jobs, replayed=False, body=claim.body, status_code=201)


def _batch_replay(earlier: IdempotencyKey) -> BatchSubmitResult:
    ids = [str(item["id"]) for item in earlier.response_body["jobs"]]
    found = {str(pk): job for pk, job in Job.objects.in_bulk(ids).items()}
    return BatchSubmitResult(
        jobs=[found[i] for i in ids if i in found],  # a job deleted since (retention) is left out
        replayed=True,
        body=earlier.response_body,
        status_code=earlier.response_status,
    )


def _log_submitted(jobs: Sequence[Job]) -> None:
    for job in jobs:
        logger.info(
            "job submitted",
            extra={"job_id": str(job.pk), "trace_id": job.trace_id, "status": job.status, "backend": job.backend},
        )


@contextmanager
def _naming_item(index: int | None) -> Iterator[None]:
    """A refusal inside names the batch item it is about: `jobs[3].shots`, or `jobs[3]` where it names
    no field. `None`: a single submission, named as it is."""
    try:
        yield
    except ServiceError as exc:
        if index is not None:
            exc.field = f"jobs[{index}]" + (f".{exc.field}" if exc.field else "")
        raise


def _submit(
    *,
    user: AbstractBaseUser,
    items: Sequence[tuple[JobRequest, int | None]],
    trace_id: str,
    indexed: bool,
    keyed: bool = False,
) -> list[Job]:
    """Jobs for (request, seed) items — one for `job_submit`, many for `job_submit_batch` — in three
    steps, the writes in one transaction (`keyed`: the Idempotency-Key's, else its own; its reads need
    none: each sees what is committed, as in a READ COMMITTED transaction):

    1. every request is validated, assembled and given a backend (`_draft`); a batch then reads the
       cache for all of them in one query;
    2. in request order, each is checked (`_settle`: cache, tier, ceiling, approval) and takes its money
       (`_admit`: the budget's reservation, the only check that can still refuse);
    3. each table is written once for all the jobs (`_write`).

    Lookups (experiments, classes, budgets, prices, run records) are read once per distinct question.
    A refusal raises the ServiceError of its job (`indexed`: named `jobs[i]…`); the rollback takes back
    what earlier jobs reserved. A seed of None is derived from the job's id."""
    submission = _Submission(user, single=len(items) == 1)
    job_ids = [uuid.uuid4() for _ in items]
    plans: list[_Plan] = []
    admitted: list[_Admitted] = []
    with policy.shared_reads():
        for index, ((req, seed), job_id) in enumerate(zip(items, job_ids, strict=True)):
            with _naming_item(index if indexed else None):
                plans.append(_draft(submission, req, seed=seed_for(job_id) if seed is None else seed))
        if len(plans) > 1:
            submission.read_cached(plans)
        else:  # one job's checks only read: settled before its transaction begins
            with _naming_item(0 if indexed else None):
                _settle(submission, plans[0])
        with nullcontext() if keyed else transaction.atomic():
            for index, (plan, job_id) in enumerate(zip(plans, job_ids, strict=True)):
                with _naming_item(index if indexed else None):
                    if len(plans) > 1:  # in request order: a job's checks weigh what earlier ones reserved
                        _settle(submission, plan)
                    admitted.append(_admit(submission, plan, job_id=job_id, trace_id=trace_id))
            return _write(submission, admitted)


def _admit(submission: _Submission, plan: _Plan, *, job_id: uuid.UUID, trace_id: str) -> _Admitted:
    """The job's money, taken before its row is written (BudgetExceeded, or parked for a sign-off in a
    class that parks over-budget jobs), and its unsaved row with the first status it starts in."""
    user = submission.user
    if plan.cached is not None:
        job = _job_new(job_id=job_id, user=user, plan=plan, trace_id=trace_id, **_cached_result_fields(plan.cached))
        now = timezone.now()
        start = lifecycle.Start(
            JobStatus.SUCCEEDED,
            reason=f"served from cache of {job.cached_from_id}",
            data={"cached_from": str(job.cached_from_id)},
            stages=plan.stages,
            fields={"started_at": now, "finished_at": now},
        )  # costs nothing and is never enqueued
        return _Admitted(job=job, start=start, plan=plan, holds=False, approval_reasons=[])
    parked = _reserve_new(plan)
    if not parked:
        submission.reserved[plan.budget.pk] += plan.cost_micros
    reasons = plan.approval_reasons + ([parked] if parked else [])
    job = _job_new(job_id=job_id, user=user, plan=plan, trace_id=trace_id, seed=plan.seed)
    note = _failover_note(plan.decision)
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
    return _Admitted(job=job, start=start, plan=plan, holds=not parked, approval_reasons=reasons)


def _write(submission: _Submission, admitted: Sequence[_Admitted]) -> list[Job]:
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
        events=[(a.job.team, f"job:{a.job.pk}", _submit_audit_detail(a)) for a in admitted],
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
            _notify_approvers_of_batch(team_waiting, submission.approver_emails(team_waiting[0][0]))
    return jobs


def _submit_audit_detail(a: _Admitted) -> dict[str, Any]:
    job = a.job
    return _jsonable(
        {
            "status": job.status,
            "backend": job.backend,
            "tier": job.tier,
            "cost_micros": a.plan.cost_micros,
            "cached_from": job.cached_from_id,
            "trace_id": job.trace_id,
        }
    )


def _failover_note(decision: policy.Decision) -> str:
    """The event reason of a job whose pinned backend is unavailable: the choice made and the other."""
    if not decision.failover:
        return ""
    others = [a for a in decision.alternatives if a["action"] != decision.failover]
    offer = "; ".join(f"{a['action'].replace('_', ' ')}: {a.get('backend', '')}" for a in others)
    return f"{decision.reasons[-1]}" + (f" (alternative — {offer})" if offer else "")


def _reserve(*, job: Job, budget: Budget, amount_micros: int, actor: AbstractBaseUser, park: bool) -> str:
    """Hold the job's estimate (a new hold, or the pending one re-sized). Returns "" when the money is
    held. When it does not fit, BudgetExceeded propagates — unless the experiment class parks
    over-budget jobs (`park`): then nothing is held and the reason the job waits for a sign-off is
    returned; approval reserves again and is refused while the budget has no room."""
    try:
        if Hold.objects.filter(job=job, status=HoldStatus.PENDING).exists():
            budget_services.hold_adjust(job=job, amount_micros=amount_micros, actor=actor)
        else:
            budget_services.hold_reserve(job=job, budget=budget, amount_micros=amount_micros, actor=actor)
    except BudgetExceeded as exc:
        if not park:
            raise
        return _parked(exc)
    return ""


def _parked(exc: BudgetExceeded) -> str:
    return f"over budget ({exc.message}): parked until an approver signs off and the budget has room"


def _reserve_new(plan: _Plan) -> str:
    """A new job's money, taken before its row is written: "" when reserved, else (for an experiment
    class that parks over-budget jobs) why the job waits for a sign-off; otherwise BudgetExceeded."""
    try:
        budget_services.budget_reserve(budget=plan.budget, amount_micros=plan.cost_micros)
    except BudgetExceeded as exc:
        if not plan.experiment_class.park_over_budget:
            raise
        return _parked(exc)
    return ""


def _calibration(backend_id: str) -> dict[str, Any]:
    calibration = registry.capabilities(backend_id).calibration
    return _jsonable(dict(calibration)) if calibration else {}


def _job_new(*, job_id: uuid.UUID, user: AbstractBaseUser, plan: _Plan, trace_id: str, **fields: Any) -> Job:
    """The job, not yet saved (`_write` saves it in its first status, see `lifecycle.new_rows`); `fields` adds the seed
    and, for a cache hit, the copied result."""
    req, d = plan.request, plan.decision
    if "calibration" not in fields:
        fields["calibration"] = _calibration(d.backend_id)
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
        estimate=_jsonable({**d.estimate, "reasons": list(d.reasons), "cost_micros": plan.cost_micros}),
        needs_approval=bool(plan.approval_reasons),
        circuit=PreEncoded(plan.circuit.to_json(), plan.circuit.canonical),
        n_qubits=plan.circuit.n_qubits,
        fingerprint=plan.fingerprint,
        sdk_versions=plan.versions,
        trace_id=trace_id,
        **fields,
    )


def _cached_result_fields(source: Job) -> dict[str, Any]:
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


def _gate(
    *,
    job: Job,
    user: AbstractBaseUser,
    reasons: list[str],
    from_status: str,
    note: str = "",
    stages: Sequence[tuple[str, datetime, datetime, dict[str, Any]]] = (),
) -> None:
    """Send the job to approval (with an Approval request and mail to approvers) or to the queue.
    `stages`: timed stages to record with the transition (the submit's validate, assemble, select)."""
    now = timezone.now()
    if reasons:
        moved = transition(
            job.pk,
            from_statuses=[from_status],
            to_status=JobStatus.AWAITING_APPROVAL,
            actor=user,
            reason=note or "needs approval: " + "; ".join(reasons),
            needs_approval=True,
            paused_from="",
            stages=stages,
            instance=job,
        )
        if not moved:
            raise _illegal(job.pk, "sent for approval")
        approvals.approval_open(job=job, reasons=reasons)
        _notify_approvers(job, reasons)
    else:
        moved = transition(
            job.pk,
            from_statuses=[from_status],
            to_status=JobStatus.QUEUED,
            actor=user,
            reason=note or "queued",
            needs_approval=False,
            queued_at=now,
            paused_from="",
            stages=stages,
            instance=job,
        )
        if not moved:
            raise _illegal(job.pk, "queued")
        enqueue_queued(job)


# --- lifecycle controls ----------------------------------------------------------------------------
def _locked_job(user: AbstractBaseUser, job_id: object) -> Job:
    """The user's team's job, row-locked for the rest of the transaction (NotFound otherwise)."""
    job = selectors.job_get_for_user(user, job_id)
    return Job.objects.select_for_update().select_related("team", "experiment_class", "submitted_by").get(pk=job.pk)


def job_pause(*, user: AbstractBaseUser, job_id: object, reason: str = "") -> Job:
    """Queued or awaiting approval → paused, remembering where it came from. A paused job keeps its hold
    and its pending approval; a worker that picks up its task finds it not queued and does nothing."""
    with transaction.atomic():
        job = _locked_job(user, job_id)
        if not controls.allows("pause", job.status) or not transition(
            job.pk,
            from_statuses=[job.status],
            to_status=JobStatus.PAUSED,
            actor=user,
            reason=reason or "paused",
            paused_from=job.status,
        ):
            raise _illegal(job.pk, "paused")
        _audit("job.pause", user=user, job=job, paused_from=job.status, reason=reason)
    job.refresh_from_db()
    return job


def job_resume(*, user: AbstractBaseUser, job_id: object, reason: str = "") -> Job:
    """Paused → where it was paused from (queued, enqueued again on commit; or awaiting approval)."""
    with transaction.atomic():
        job = _locked_job(user, job_id)
        if not controls.allows("resume", job.status):
            raise _illegal(job.pk, "resumed")
        target = JobStatus.AWAITING_APPROVAL if job.paused_from == JobStatus.AWAITING_APPROVAL else JobStatus.QUEUED
        extra: dict[str, Any] = {"queued_at": timezone.now()} if target == JobStatus.QUEUED else {}
        if not transition(
            job.pk,
            from_statuses=[JobStatus.PAUSED],
            to_status=target,
            actor=user,
            reason=reason or "resumed",
            paused_from="",
            **extra,
        ):
            raise _illegal(job.pk, "resumed")
        if target == JobStatus.QUEUED:
            enqueue_queued(job)
        _audit("job.resume", user=user, job=job, to=target, reason=reason)
    job.refresh_from_db()
    return job


def job_cancel(*, user: AbstractBaseUser, job_id: object, reason: str = "") -> Job:
    """Any non-terminal status → cancelled; the hold is released (a cancelled job costs nothing) and a
    vendor job already submitted is cancelled through its adapter after commit (best effort: a result
    that arrives later finds the job cancelled and is dropped by the worker's conditional update)."""
    with transaction.atomic():
        job = _locked_job(user, job_id)
        if not transition(
            job.pk,
            from_statuses=NON_TERMINAL,
            to_status=JobStatus.CANCELLED,
            actor=user,
            reason=reason or "cancelled",
            finished_at=timezone.now(),
        ):
            raise _illegal(job.pk, "cancelled")
        budget_services.hold_release(job=job, reason=f"cancelled by {user.get_username()}", actor=user)
        approvals.approval_withdraw(job_id=job.pk, why="job cancelled", by=user)
        if job.remote_id:  # submitted to a vendor: its poller stops at "cancelled", so cancel it here
            transaction.on_commit(functools.partial(_cancel_remote, job.backend, job.remote_id))
        _audit("job.cancel", user=user, job=job, from_status=job.status, reason=reason)
    job.refresh_from_db()
    return job


def _cancel_remote(backend_id: str, remote_id: str) -> None:
    try:
        registry.get_adapter(backend_id).cancel(remote_id)
    except Exception:
        logger.exception("cancel of remote job %s on %s failed", remote_id, backend_id)


def _route(
    *, job: Job, budget: Budget, backend: str | None, shots: int, actor: AbstractBaseUser
) -> tuple[policy.Decision, dict[str, Any], list[str]]:
    """Re-estimate a job on `backend` (or let the policy choose) with `shots`; re-size its hold.
    Returns the decision, the Job fields to write, and the approval reasons it now has (including
    "over budget" for a class that parks over-budget jobs)."""
    circuit = ir.Circuit.from_json(job.circuit)
    decision = policy.select_backend(
        circuit=circuit,
        family=job.family,
        shots=shots,
        max_tier=min(job.max_tier, budget.max_tier),
        backend_pin=backend,
        priority=job.priority,
        budget_remaining_micros=budget.remaining_micros,
        prefers_noise=False,
        team=job.team,
        seed=job.seed,
    )
    budget_services.check_tier_allowed(budget=budget, tier=decision.tier)
    if job.budget_ceiling_micros is not None and decision.cost_micros > job.budget_ceiling_micros:
        raise Invalid(
            f"the estimate {format_money(decision.cost_micros)} on {decision.backend_id} is above this job's "
            f"ceiling {format_money(job.budget_ceiling_micros)}",
            field="budget_ceiling",
            code="over_budget_ceiling",
        )
    parked = _reserve(
        job=job,
        budget=budget,
        amount_micros=decision.cost_micros,
        actor=actor,
        park=job.experiment_class.park_over_budget,
    )
    versions = sdk_versions()
    fields = {
        "backend": decision.backend_id,
        "tier": decision.tier,
        "emulated": decision.emulated,
        "shots": shots,
        "policy_reasons": list(decision.reasons),
        "estimate": _jsonable({**decision.estimate, "reasons": list(decision.reasons)}),
        "fingerprint": ir.fingerprint(circuit, shots=shots, backend=decision.backend_id, sdk_versions=versions),
        "sdk_versions": versions,
        "calibration": _calibration(decision.backend_id),
    }
    reasons = budget_services.approval_reasons(
        budget=budget, experiment_class=job.experiment_class, tier=decision.tier, cost_micros=decision.cost_micros
    )
    return decision, fields, reasons + ([parked] if parked else [])


def _job_budget(job: Job) -> Budget:
    budget = budget_selectors.budget_for(team=job.team, experiment_class=job.experiment_class)
    if budget is None:
        raise Conflict(f"team {job.team.slug} no longer has a budget for {job.experiment_class.slug}")
    return budget


def job_reroute(*, user: AbstractBaseUser, job_id: object, backend: str, reason: str = "") -> Job:
    """Move a queued, paused or awaiting job to `backend`: re-estimated within its max_tier and the
    backend's capabilities, hold adjusted; then to approval when the new estimate needs it (a new
    request), else queued and enqueued on commit. A running job cannot be rerouted (cancel it)."""
    with transaction.atomic():
        job = _locked_job(user, job_id)
        if not controls.allows("reroute", job.status):
            raise _illegal(job.pk, "rerouted")
        old_backend, from_status = job.backend, job.status
        decision, fields, reasons = _route(
            job=job, budget=_job_budget(job), backend=backend, shots=job.shots, actor=user
        )
        Job.objects.filter(pk=job.pk).update(**fields)
        note = reason or f"rerouted from {old_backend} to {decision.backend_id}"
        if not reasons:
            why = f"rerouted to {decision.backend_id}; no sign-off needed"
            approvals.approval_withdraw(job_id=job.pk, why=why, by=user)
        _gate(job=job, user=user, reasons=reasons, from_status=from_status, note=note)
        _audit(
            "job.reroute",
            user=user,
            job=job,
            from_backend=old_backend,
            to_backend=decision.backend_id,
            cost_micros=decision.cost_micros,
            reason=reason,
        )
    job.refresh_from_db()
    return job


def job_rerun(*, user: AbstractBaseUser, job_id: object, on: str = rerun.AS_SUBMITTED) -> Job:
    """A new job from this one's request (`on`: as submitted, or pinned to the backend it ran on; see
    `jobs.rerun`), forced to execute (no_cache). The original is untouched."""
    job = selectors.job_get_for_user(user, job_id)
    result = job_submit(user=user, request=rerun.request_for(job, on=on))
    _audit("job.rerun", user=user, job=result.job, rerun_of=str(job.pk), on=on)
    return result.job


# --- approvals -------------------------------------------------------------------------------------
def approval_decide(
    *,
    user: AbstractBaseUser,
    job_id: object,
    decision: str,
    comment: str = "",
    backend: str | None = None,
    shots: int | None = None,
) -> Job:
    """Approve or reject a job awaiting sign-off.

    The decider must be an approver or admin of the job's team (another team's job: NotFound; a
    researcher: Forbidden) and not its submitter (Forbidden). The decision is a conditional UPDATE
    on the pending, unexpired Approval, under the job's row lock: of two approvers deciding at once,
    one wins and the other gets Conflict naming who decided. An approver may change the backend or
    the shots; the job is re-estimated and its hold adjusted. An approval checks the job against its
    budget as it is now (`jobs.approvals`): a tier above a since-lowered cap is Invalid
    (`tier_not_allowed`), money that no longer fits is BudgetExceeded naming the budget, and the reasons
    it needs sign-off now are recorded. Approve → queued (enqueued on commit); reject → rejected and
    the hold released, whatever the budget says. The submitter is mailed on commit.
    """
    if decision not in ("approve", "reject"):
        raise Invalid("decision must be approve or reject", field="decision")
    if shots is not None and not 1 <= shots <= 1_000_000:
        raise Invalid("shots must be between 1 and 1000000", field="shots")
    with transaction.atomic():
        job = _locked_job(user, job_id)
        membership = Membership.objects.filter(user=user, team=job.team).first()
        if membership is None or not membership.can_approve:
            raise Forbidden("only an approver or admin of the team can decide approvals", code="not_approver")
        if job.submitted_by_id == user.pk:
            raise Forbidden("you cannot approve your own job", code="own_job")
        approval = Approval.objects.filter(job=job).select_related("decided_by").first()
        if approval is None:
            raise Conflict("this job has no approval request", code="no_approval")
        now = timezone.now()
        approvals.check_decidable(job=job, approval=approval, now=now)
        changes, reasons = {}, approval.reasons
        if decision == "approve":  # against the budget's tier cap and rules as they are now
            with approvals.tier_refusals_unprocessable():
                changes = _approval_changes(job=job, user=user, backend=backend, shots=shots)
            job.refresh_from_db(fields=["estimate", "backend", "tier"])
            budget = _job_budget(job)
            reasons = approvals.approval_recheck(job=job, budget=budget, requested=approval.reasons)
        status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
        won = Approval.objects.filter(pk=approval.pk, status=ApprovalStatus.PENDING, expires_at__gt=now).update(
            status=status, decided_by=user, decided_at=now, comment=comment, changes=changes, reasons=reasons
        )
        if not won:
            approval.refresh_from_db()
            approvals.check_decidable(job=job, approval=approval, now=now)
            raise Conflict("the approval could not be decided", code="already_decided")
        if decision == "approve":
            # A parked (over-budget) job is reserved now; no room → BudgetExceeded, nothing decided.
            try:
                _reserve(job=job, budget=budget, amount_micros=int(job.estimate["cost_micros"]), actor=user, park=False)
            except BudgetExceeded as exc:
                raise approvals.budget_refusal(exc, budget) from None
            moved = transition(
                job.pk,
                from_statuses=[JobStatus.AWAITING_APPROVAL],
                to_status=JobStatus.QUEUED,
                actor=user,
                reason=comment or "approved",
                data={"changes": changes, "reasons": reasons},
                queued_at=now,
            )
            if moved:
                enqueue_queued(job)
        else:
            moved = transition(
                job.pk,
                from_statuses=[JobStatus.AWAITING_APPROVAL],
                to_status=JobStatus.REJECTED,
                actor=user,
                reason=comment or "rejected",
                finished_at=now,
            )
            if moved:
                budget_services.hold_release(job=job, reason=f"rejected by {user.get_username()}", actor=user)
        if not moved:
            raise _illegal(job.pk, "approved" if decision == "approve" else "rejected")
        job.refresh_from_db()
        _notify_submitter(job, "approved" if decision == "approve" else "rejected", user, comment)
        _audit(f"job.{decision}", user=user, job=job, comment=comment, changes=changes, reasons=reasons)
    return job


def _approval_changes(*, job: Job, user: AbstractBaseUser, backend: str | None, shots: int | None) -> dict[str, Any]:
    """Apply an approver's backend/shots change (re-estimate, adjust the hold); the change record."""
    if (backend is None or backend == job.backend) and (shots is None or shots == job.shots):
        return {}
    before = {"backend": job.backend, "shots": job.shots, "cost_micros": job.estimate.get("cost_micros")}
    decision, fields, _ = _route(
        job=job, budget=_job_budget(job), backend=backend or job.backend, shots=shots or job.shots, actor=user
    )
    Job.objects.filter(pk=job.pk).update(**fields)
    after = {"backend": decision.backend_id, "shots": fields["shots"], "cost_micros": decision.cost_micros}
    return {"before": before, "after": after}


def approvals_expire(now: datetime | None = None) -> int:
    """Sweeper: pending approvals past `expires_at` whose job awaits approval → expired; the job is
    rejected ("approval expired") and its hold released. Each in its own transaction; a decision that
    races the sweeper wins or loses on the same conditional UPDATE. Returns how many expired."""
    now = now or timezone.now()
    due = list(
        Approval.objects.filter(
            status=ApprovalStatus.PENDING, expires_at__lte=now, job__status=JobStatus.AWAITING_APPROVAL
        ).values_list("pk", "job_id")
    )
    expired = 0
    for approval_id, job_id in due:
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id).first()
            if job is None:
                continue
            if not Approval.objects.filter(pk=approval_id, status=ApprovalStatus.PENDING, expires_at__lte=now).update(
                status=ApprovalStatus.EXPIRED, decided_at=now
            ):
                continue
            if transition(
                job_id,
                from_statuses=[JobStatus.AWAITING_APPROVAL],
                to_status=JobStatus.REJECTED,
                actor_label="approval-sweeper",
                reason="approval expired",
                finished_at=now,
            ):
                budget_services.hold_release(job=job, reason="approval expired")
                _mail_later(
                    f"[Hybrid Portal] your job {str(job_id)[:8]} was rejected: approval expired",
                    f"No approver decided within {approvals.approval_ttl()}. Resubmit it if it is still needed.",
                    [job.submitted_by.email],
                )
            expired += 1
    return expired


__all__ = [
    "Quote",
    "BatchSubmitResult",
    "SubmitResult",
    "approval_decide",
    "approvals_expire",
    "enqueue_queued",
    "experiment_create",
    "idempotency_keys_purge",
    "job_cancel",
    "job_pause",
    "job_quote",
    "job_reroute",
    "job_rerun",
    "job_resume",
    "job_submit",
    "job_submit_batch",
    "request_body_sha256",
    "trace_id_from",
]
