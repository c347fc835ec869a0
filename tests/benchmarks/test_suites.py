"""Suites expand into valid job requests; runs submit them as ordinary, governed jobs."""

from __future__ import annotations

import pytest

from benchmarks import suites
from benchmarks.services import benchmark_run_start
from budgets.errors import Forbidden, Invalid, NotFound
from jobs.contract import parse_job_request, resolve_job_request
from jobs.models import JobStatus


@pytest.mark.parametrize("name", sorted(suites.SUITES))
def test_every_suite_builds_job_requests_the_contract_accepts(name):
    plan = suites.plan_suite(suites.get_suite(name), trials=2, seed=1)
    assert plan.planned
    for trial in plan.planned:
        request = suites.job_request(trial, suite=name, experiment_id=7, run_id=42)
        parsed = resolve_job_request(parse_job_request(request))
        assert parsed.circuit.n_qubits >= 1
        assert request["no_cache"] is True and request["priority"] == "batch"
        assert request["backend"] == trial.backend and request["max_tier"] == trial.tier
        assert f"suite:{name}" in request["labels"] and "run:42" in request["labels"]


def test_problems_too_wide_for_a_device_are_skipped_with_the_reason():
    plan = suites.plan_suite(suites.get_suite("ghz-ladder"), trials=1, seed=1)
    skipped = {(s["problem"], s["backend"]): s["reason"] for s in plan.skipped}
    assert skipped == {
        ("ghz-8", "aer-noisy:fake_manila"): "needs 8 qubits; aer-noisy:fake_manila takes 5",
        ("ghz-8", "ibm:fake_manila"): "needs 8 qubits; ibm:fake_manila takes 5",
    }
    assert {(t.problem.key, t.backend) for t in plan.planned} >= {("ghz-8", "qsim"), ("ghz-5", "ibm:fake_manila")}


def test_trial_seeds_are_shared_across_backends_spread_apart_and_replayable():
    suite = suites.get_suite("quantum-volume")
    plan = suites.plan_suite(suite, backends=["qsim", "qsim-noisy"], trials=4, seed=99)
    qv3 = [t for t in plan.planned if t.problem.key == "qv-3"]
    by_trial = {}
    for t in qv3:
        by_trial.setdefault(t.trial, set()).add((t.seed, t.params["seed"]))
    assert all(len(pairs) == 1 for pairs in by_trial.values())  # same circuit and seed on both backends
    seeds = sorted(next(iter(p))[0] for p in by_trial.values())
    assert len(set(seeds)) == 4 and min(b - a for a, b in zip(seeds, seeds[1:], strict=False)) > 1000
    circuits = {next(iter(p))[1] for p in by_trial.values()}
    assert len(circuits) == 4  # a fresh random model circuit per trial
    again = suites.plan_suite(suite, backends=["qsim", "qsim-noisy"], trials=4, seed=99)
    assert [(t.seed, t.params) for t in again.planned] == [(t.seed, t.params) for t in plan.planned]


def test_unknown_suite_and_unknown_backend_are_refused_naming_the_field():
    with pytest.raises(Invalid) as suite_error:
        suites.get_suite("nope")
    assert suite_error.value.field == "suite"
    with pytest.raises(Invalid) as backend_error:
        suites.plan_suite(suites.get_suite("bv"), backends=["qsim", "warp-drive"])
    assert backend_error.value.field == "backends"


def test_a_run_submits_governed_jobs_and_hardware_trials_wait_for_approval(cast):
    run = benchmark_run_start(
        user=cast.alice,
        suite="ghz-ladder",
        experiment_id=cast.qlab_experiment.pk,
        backends=["qsim", "ibm:fake_manila"],
        trials=2,
        shots=200,
        seed=8,
    )
    trials = list(run.trials.select_related("job"))
    assert len(trials) == 3 * 2 + 2 * 2  # GHZ(8) does not fit the 5-qubit device
    assert run.config["skipped"] == [
        {"problem": "ghz-8", "backend": "ibm:fake_manila", "reason": "needs 8 qubits; ibm:fake_manila takes 5"}
    ]
    for trial in trials:
        job = trial.job
        assert job.no_cache and job.priority == "batch" and f"run:{run.pk}" in job.labels
        assert job.backend == trial.backend
        if trial.backend == "ibm:fake_manila":
            assert job.status == JobStatus.AWAITING_APPROVAL and job.emulated and job.tier == 3
        else:
            assert job.status == JobStatus.QUEUED
    # trial i samples with the same seed on both backends
    seeds = {(t.problem, t.trial): set() for t in trials}
    for t in trials:
        seeds[(t.problem, t.trial)].add(t.job.seed)
    assert all(len(s) == 1 for s in seeds.values())


def test_a_run_in_another_teams_experiment_is_not_found(cast):
    with pytest.raises(NotFound):
        benchmark_run_start(user=cast.carol, suite="bv", experiment_id=cast.qlab_experiment.pk, trials=1)


def test_trials_the_budget_refuses_are_recorded_and_the_rest_of_the_run_goes_ahead(cast):
    from benchmarks.models import BenchmarkRun
    from tests import factories

    team = factories.make_team("simonly")
    factories.make_budget(team, cast.klass, max_tier=2)  # this budget pays for no hardware
    experiment = factories.make_experiment(team, cast.klass, "sim only")
    user = factories.make_user("sam", team)
    run = benchmark_run_start(
        user=user, suite="bv", experiment_id=experiment.pk, backends=["qsim", "ibm:fake_manila"], trials=2
    )
    assert {t.backend for t in run.trials.all()} == {"qsim"} and run.trials.count() == 6
    refused = [s for s in run.config["skipped"] if s["reason"].startswith("refused:")]
    assert {(s["problem"], s["backend"]) for s in refused} == {
        ("bv-101", "ibm:fake_manila"),
        ("bv-1011", "ibm:fake_manila"),
    }
    assert "tier 3" in refused[0]["reason"]
    with pytest.raises(Forbidden) as refusal:
        benchmark_run_start(user=user, suite="bv", experiment_id=experiment.pk, backends=["ibm:fake_manila"])
    assert refusal.value.code == "tier_not_allowed"
    assert BenchmarkRun.objects.count() == 1  # the refused run left nothing behind
