"""Writes for benchmarks: start a run of a suite.

Every trial is an ordinary job submitted through `jobs.services.job_submit`, so budgets, holds,
tier limits and approvals apply exactly as for any job: a trial on hardware (tier 3, e.g. an
``ibm:*`` device) waits in ``awaiting_approval`` until an approver other than the starter signs it
off, and the run's page shows it waiting. Nothing here bypasses that.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from benchmarks import suites
from benchmarks.models import BenchmarkRun, BenchmarkTrial
from budgets.errors import Invalid, ServiceError
from jobs.selectors import experiment_get_for_user
from jobs.services.submit import job_submit

logger = logging.getLogger(__name__)


def benchmark_run_start(
    *,
    user: AbstractBaseUser,
    suite: str,
    experiment_id: int,
    backends: list[str] | None = None,
    trials: int | None = None,
    shots: int | None = None,
    seed: int | None = None,
) -> BenchmarkRun:
    """Create a run and submit one job per (problem, backend, trial) through `job_submit`.

    Each trial is its own transaction (its job, hold, seed and trial row together; the job is enqueued
    when that commits), not one transaction for the whole run: a run of dozens of jobs would otherwise
    hold the team budget's row lock — taken by every hold — for as long as all the estimates take
    (seconds per hardware trial), stalling every other submission of the team. While trials are being
    submitted the run's status is ``submitting``.

    A trial the portal refuses (budget exhausted, a tier above the budget's, ...) is recorded in
    ``config["skipped"]`` with the refusal, like a problem too wide for a backend, and the rest go
    ahead. When nothing at all can be submitted no run is left behind and the first refusal is raised
    (Invalid, NotFound, BudgetExceeded, ...).
    """
    spec = suites.get_suite(suite)
    experiment = experiment_get_for_user(user, experiment_id)
    plan = suites.plan_suite(spec, backends=backends, trials=trials, shots=shots, seed=seed)
    if not plan.planned:
        raise Invalid(
            "nothing to run: every problem is too wide for the chosen backends",
            field="backends",
            detail={"skipped": plan.skipped},
        )
    run = BenchmarkRun.objects.create(
        team=experiment.team,
        experiment=experiment,
        suite=spec.name,
        created_by=user,
        config={
            "backends": plan.backends,
            "trials": plan.trials,
            "shots": plan.shots,
            "seed": plan.seed,
            "planned": len(plan.planned),
            "problems": [
                {"key": p.key, "family": p.family, "params": dict(p.params), "score": p.score} for p in spec.problems
            ],
            "skipped": plan.skipped,
            "submitting": True,
        },
    )
    skipped = list(plan.skipped)
    refused: dict[tuple[str, str], ServiceError] = {}
    for trial in plan.planned:
        pair = (trial.problem.key, trial.backend)
        if pair in refused:  # the same refusal would repeat for every trial of the pair
            continue
        request = suites.job_request(trial, suite=spec.name, experiment_id=experiment.pk, run_id=run.pk)
        try:
            with transaction.atomic():
                job = job_submit(user=user, request=request, seed=trial.seed).job
                BenchmarkTrial.objects.create(
                    run=run, job=job, problem=trial.problem.key, backend=trial.backend, trial=trial.trial
                )
        except ServiceError as exc:
            refused[pair] = exc
            skipped.append({"problem": pair[0], "backend": pair[1], "reason": f"refused: {exc.message}"})
    if not run.trials.exists():
        run.delete()
        raise next(iter(refused.values()))
    run.config = {**run.config, "skipped": skipped, "submitting": False}
    run.save(update_fields=["config"])
    logger.info("benchmark run %s (%s): %d trials, %d skipped", run.pk, spec.name, run.trials.count(), len(skipped))
    return run
