"""A submission's reads: validate, assemble and select each request, then check it against the
cache, the budget's tiers, its ceiling and the approval rules. Writes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from adapters import ir
from adapters.versions import sdk_versions
from budgets import selectors as budget_selectors
from budgets import services as budget_services
from budgets.errors import BudgetExceeded, Invalid, NotFound
from budgets.models import Budget, ExperimentClass
from budgets.money import format_money, to_micros
from jobs import policy, selectors
from jobs.contract import ContractError, JobRequest, ParsedJob, parse_job_request, resolve_job_request
from jobs.models import Experiment, Job, Stage
from jobs.services.notifications import team_approver_emails
from jobs.services.writes import contract_refusal


@dataclass
class Plan:
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


def contract_parse(request: JobRequest | dict[str, Any]) -> JobRequest:
    if isinstance(request, JobRequest):
        return request
    try:
        return parse_job_request(request)
    except ContractError as exc:
        raise contract_refusal(exc) from None


def experiment_for_user(user: AbstractBaseUser, experiment_id: int) -> Experiment:
    try:
        return selectors.experiment_get_for_user(user, experiment_id)
    except NotFound:
        raise NotFound(f"experiment {experiment_id} not found", field="experiment") from None


def experiment_class_for(req: JobRequest, experiment: Experiment) -> ExperimentClass:
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


def budget_for_class(experiment: Experiment, klass: ExperimentClass) -> Budget:
    budget = budget_selectors.budget_for(team=experiment.team, experiment_class=klass)
    if budget is None:
        raise Invalid(
            f"team {experiment.team.slug} has no budget for {klass.slug}; ask a team admin",
            field="experiment_class",
            code="no_budget",
        )
    return budget


class Submission:
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
            self._experiments[experiment_id] = experiment_for_user(self.user, experiment_id)
        return self._experiments[experiment_id]

    def experiment_class(self, req: JobRequest, experiment: Experiment) -> ExperimentClass:
        return experiment_class_for(req, experiment)  # the experiment's own, read with it

    def budget(self, experiment: Experiment, klass: ExperimentClass) -> Budget:
        key = (experiment.team_id, klass.pk)
        if key not in self._budgets:
            self._budgets[key] = budget_for_class(experiment, klass)
        return self._budgets[key]

    def remaining(self, req: JobRequest, budget: Budget, taken: Counter[int]) -> int | None:
        """What is left of `budget` once this submission's jobs took `taken`, for the policy to weigh;
        None where it weighs none: a pinned backend, or a class that parks over-budget jobs (it sees
        every backend)."""
        if req.backend or budget.experiment_class.park_over_budget:
            return None
        return budget.remaining_micros - taken[budget.pk]

    def read_cached(self, plans: Sequence[Plan]) -> None:
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
            self._approvers[job.team_id] = team_approver_emails(job)
        return self._approvers[job.team_id]


def plan_one(user: AbstractBaseUser, req: JobRequest) -> Plan:
    """Validate, assemble, select and check one request: what submitting it would do. Writes nothing."""
    submission = Submission(user)
    plan = plan_draft(submission, req, seed=None)
    plan_check(submission, plan)
    return plan


def plan_draft(submission: Submission, req: JobRequest, *, seed: int | None) -> Plan:
    """Validate, assemble and select for one request (a submission's first pass; `plan_check` checks the
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
        raise contract_refusal(exc) from None
    stages.append((Stage.VALIDATE, started, timezone.now(), {"family": parsed.family.name}))

    started = timezone.now()
    circuit = parsed.circuit
    stages.append((Stage.ASSEMBLE, started, timezone.now(), {"n_qubits": circuit.n_qubits, "ops": len(circuit.ops)}))

    plan = Plan(
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
    # is served from the cache instead, `plan_check` decides again with what is really left.
    taken = submission.planned
    remaining = submission.remaining(req, budget, taken)
    if not pinned_cache_hit(submission, plan, remaining):
        backend_choose(plan, remaining, may_wait=taken[budget.pk] > 0)
    taken[budget.pk] += plan.cost_micros
    plan.select_seconds = (timezone.now() - plan.select_started).total_seconds()
    return plan


def pinned_cache_hit(submission: Submission, plan: Plan, remaining: int | None) -> bool:
    """A single pinned submission: the pin fixes the fingerprint before the policy runs, so a cache hit
    is decided without an estimate (price, run records, breaker: nothing will run). True when it is one.
    A batch reads the cache for all its jobs in one query instead."""
    req = plan.request
    if not submission.single or not req.backend or req.no_cache:
        return False
    caps = policy.pinned_capabilities(plan.circuit, pin=req.backend, max_tier=req.max_tier)
    plan.fingerprint_for(req.backend)
    if submission.cached(plan.experiment.team, plan.fingerprint) is None:  # remembered for `plan_check`
        return False
    plan.decision, plan.remaining = policy.served_from_cache(caps), remaining
    return True


def backend_choose(plan: Plan, remaining: int | None, *, may_wait: bool = False) -> None:
    """The policy's decision for `plan` with `remaining` left of the budget, and the fingerprint that
    follows. `may_wait`: when only the budget stands in the way, leave the decision to `plan_check`."""
    try:
        plan.decision = policy_select(
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


def plan_check(submission: Submission, plan: Plan) -> None:
    """A submission's second pass for one plan, in request order: the backend chosen again where the
    budget left differs from what the first pass expected, then the cache; a job that will run is
    checked against the budget's tiers, its ceiling and the approval rules. Raises the ServiceError a
    refusal deserves. Its select stage times its own work in both passes."""
    started = timezone.now()
    req, budget = plan.request, plan.budget
    remaining = submission.remaining(req, budget, submission.reserved)
    if plan.decision is None or remaining != plan.remaining:
        backend_choose(plan, remaining)
    decision = plan.decision
    cached = None if req.no_cache else submission.cached(plan.experiment.team, plan.fingerprint)
    if cached is None:
        budget_services.check_tier_allowed(budget=budget, tier=decision.tier)
        ceiling_check(req, decision.cost_micros)
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


def policy_select(
    *, req: JobRequest, parsed: ParsedJob, budget: Budget, team: Any, seed: int | None, remaining: int | None
) -> policy.Decision:
    """The policy's choice, weighing `remaining` of the budget (None: every backend, see
    `Submission.remaining`). Unpinned, it stays inside the budget's tiers too; a pin is checked against
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


def ceiling_check(req: JobRequest, cost_micros: int) -> None:
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
