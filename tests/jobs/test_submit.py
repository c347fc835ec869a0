"""Submitting a job: validate → assemble → select → reserve → queue, in one transaction."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from budgets.errors import BudgetExceeded, Forbidden, Invalid, NotFound
from budgets.models import AuditEvent, Budget, Hold, HoldStatus, LedgerEntry
from jobs.models import IdempotencyKey, Job, JobEvent, JobStatus, Stage
from jobs.services import job_quote, job_rerun, job_submit
from tests.jobs.orch_support import enqueued_job_ids, ghz, price

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_submitted_job_is_queued_and_enqueued_after_commit(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3))

    job = result.job
    assert result.status_code == 201 and not result.replayed
    assert job.status == JobStatus.QUEUED
    assert job.queued_at is not None
    assert enqueued_job_ids() == [str(job.pk)]
    assert Hold.objects.get(job=job).status == HoldStatus.PENDING
    assert AuditEvent.objects.filter(action="job.submit", target=f"job:{job.pk}", actor=cast.alice).exists()


def _seen_by_a_worker() -> list[str]:
    """What a worker's own database connection sees in the broker right now (another thread, so
    another connection: only committed rows)."""
    seen: list[str] = []

    def look() -> None:
        try:
            seen.extend(enqueued_job_ids())
        finally:
            connection.close()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_task_commits_with_the_job_and_rolls_back_with_it(cast):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3)).job
        assert enqueued_job_ids() == [str(job.pk)]  # written in the submit's transaction …
        assert _seen_by_a_worker() == []  # … and invisible to the workers until it commits
        raise Abort
    assert enqueued_job_ids() == [] and Job.objects.count() == 0  # a rollback takes both back

    with transaction.atomic():
        job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3)).job
    assert _seen_by_a_worker() == [str(job.pk)]


class Broken(Exception):
    pass


def _break_task_write(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise Broken

    monkeypatch.setattr("jobs.queueing.insert_tasks", broken)


def _break_audit_write(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise Broken

    monkeypatch.setattr(AuditEvent.objects, "bulk_create", broken)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cost", ["0", "2.00"])
@pytest.mark.parametrize("breaks", [_break_task_write, _break_audit_write], ids=["task", "audit"])
def test_a_submission_that_fails_while_writing_leaves_nothing_behind(cast, monkeypatch, cost, breaks):
    if cost != "0":
        price("qsim", cost)
    audited_before, booked_before = AuditEvent.objects.count(), LedgerEntry.objects.count()
    breaks(monkeypatch)

    with pytest.raises(Broken):
        job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim"))

    assert Job.objects.count() == 0 and JobEvent.objects.count() == 0
    assert Hold.objects.count() == 0 and LedgerEntry.objects.count() == booked_before
    assert AuditEvent.objects.count() == audited_before and enqueued_job_ids() == []
    assert Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros == 0  # a paid job's reservation undone

    monkeypatch.undo()  # the same request goes through once nothing breaks
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim")).job
    assert enqueued_job_ids() == [str(job.pk)] and Hold.objects.filter(job=job).count() == 1


def test_job_has_stage_events_and_the_traceparents_trace_id(cast):
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3), traceparent=TRACEPARENT).job

    assert job.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    stages = list(JobEvent.objects.filter(job=job).exclude(stage=Stage.LIFECYCLE).values_list("stage", flat=True))
    assert stages == [Stage.VALIDATE, Stage.ASSEMBLE, Stage.SELECT]
    assert all(
        e.duration_ms is not None and e.duration_ms >= 0 for e in JobEvent.objects.filter(job=job, stage__in=stages)
    )
    lifecycle = JobEvent.objects.get(job=job, stage=Stage.LIFECYCLE)
    assert (lifecycle.from_status, lifecycle.to_status, lifecycle.actor) == ("submitted", "queued", cast.alice)


@pytest.mark.parametrize("header", [None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"])
def test_missing_or_invalid_traceparent_gets_a_fresh_trace_id(cast, header):
    one = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3), traceparent=header).job
    two = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, no_cache=True), traceparent=header).job
    assert len(one.trace_id) == 32 and int(one.trace_id, 16) > 0
    assert one.trace_id != two.trace_id


def test_job_keeps_what_it_needs_to_be_rerun_months_later(cast):
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 4, labels=["demo"])).job

    assert job.backend == "qsim" and job.tier == 0
    assert job.n_qubits == 4 and job.circuit["n_qubits"] == 4
    assert len(job.fingerprint) == 64
    assert job.sdk_versions.get("qsimcirq")
    assert job.seed is not None
    assert (job.family, job.family_version, job.params) == ("ghz", 1, {"n_qubits": 4})
    assert job.labels == ["demo"]
    assert job.estimate["cost_micros"] == 0 and job.estimate["reasons"][0].startswith("qsim:")


def test_quote_creates_nothing_and_names_backend_cost_and_reasons(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        quote = job_quote(user=cast.alice, request=ghz(cast.qlab_experiment, 5))

    assert (quote.backend, quote.tier, quote.cost_micros, quote.needs_approval) == ("qsim", 0, 0, False)
    assert quote.reasons[0].startswith("qsim: cheapest tier-0 backend for 5 qubits")
    assert quote.budget_remaining_micros == 100_000_000 and quote.currency == "USD"
    assert quote.n_qubits == 5 and len(quote.fingerprint) == 64 and quote.cached_from is None
    assert Job.objects.count() == 0 and Hold.objects.count() == 0 and callbacks == []


def test_quote_says_when_approval_is_needed(cast):
    price("qsim", "20.00")  # above the 10.00 approval threshold
    quote = job_quote(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim"))
    assert quote.cost_micros == 20_000_000
    assert quote.needs_approval and "approval threshold" in quote.approval_reasons[0]


def test_another_teams_experiment_is_not_found(cast):
    with pytest.raises(NotFound) as err:
        job_submit(user=cast.carol, request=ghz(cast.qlab_experiment, 3))
    assert err.value.field == "experiment"
    assert Job.objects.count() == 0


def _refusals(cast):
    return {
        "budget exceeded": (ghz(cast.qlab_experiment, 3, backend="qsim"), BudgetExceeded, "budget"),
        "unknown family": ({**ghz(cast.qlab_experiment), "family": "teleport"}, Invalid, "family"),
        "bad params": (ghz(cast.qlab_experiment, 0), Invalid, "params.n_qubits"),
        "unknown backend": (ghz(cast.qlab_experiment, 3, backend="qpu-9000"), Invalid, "backend"),
        "pin above max_tier": (ghz(cast.qlab_experiment, 3, backend="qsim-noisy", max_tier=0), Invalid, "backend"),
        "over the ceiling": (
            ghz(cast.qlab_experiment, 3, backend="qsim", budget_ceiling="0.5"),
            Invalid,
            "budget_ceiling",
        ),
        "unknown field": ({**ghz(cast.qlab_experiment), "colour": "red"}, Invalid, "colour"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "budget exceeded",
        "unknown family",
        "bad params",
        "unknown backend",
        "pin above max_tier",
        "over the ceiling",
        "unknown field",
    ],
)
def test_refused_job_leaves_nothing_behind(cast, case, django_capture_on_commit_callbacks):
    price("qsim", "150.00" if case == "budget exceeded" else "1.00")
    body, error, field = _refusals(cast)[case]

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(error) as err:
        job_submit(user=cast.alice, request=body, idempotency_key="key-1")

    assert err.value.field == field
    assert Job.objects.count() == 0
    assert Hold.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0
    assert enqueued_job_ids() == [] and callbacks == []
    assert Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros == 0


def test_unknown_backend_error_lists_the_valid_ones(cast):
    with pytest.raises(Invalid) as err:
        job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qpu-9000"))
    assert "qsim" in err.value.message and "aer" in err.value.message


def test_pin_above_the_budgets_max_tier_is_refused_by_the_budget(cast):
    Budget.objects.filter(pk=cast.qlab_budget.pk).update(max_tier=0)
    with pytest.raises(Forbidden) as err:
        job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim-noisy", max_tier=2))
    assert (err.value.field, err.value.code) == ("max_tier", "tier_not_allowed")
    assert Job.objects.count() == 0


def test_unpinned_job_stays_inside_the_budgets_tiers(cast):
    Budget.objects.filter(pk=cast.qlab_budget.pk).update(max_tier=0)
    body = {"experiment": cast.qlab_experiment.pk, "family": "random", "params": {"n_qubits": 4, "depth": 3, "seed": 1}}
    job = job_submit(user=cast.alice, request={**body, "max_tier": 2}).job  # a noise benchmark, yet tier 0
    assert job.tier == 0 and any("allows tiers up to 0" in r for r in job.policy_reasons)


def test_quote_shows_the_price_of_a_job_the_budget_cannot_cover(cast):
    price("qsim", "150.00")
    quote = job_quote(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim"))
    assert quote.cost_micros == 150_000_000 and not quote.within_budget
    assert "a submission would be refused" in quote.reasons[-1]
    assert Job.objects.count() == 0


@pytest.mark.parametrize("experiment", [0, -1, 2**63, 36893488147419103231])
def test_an_experiment_id_outside_the_key_range_is_not_found(cast, experiment):
    # 36893488147419103231 (2^65 - 1) is what schemathesis sent: SQLite's driver raised on it (a 500).
    with pytest.raises(NotFound) as err:
        job_quote(user=cast.alice, request={**ghz(cast.qlab_experiment), "experiment": experiment})
    assert err.value.field == "experiment"


def test_a_non_member_cannot_submit(cast):
    from tests import factories

    outsider = factories.make_user("mallory")
    with pytest.raises(NotFound):
        job_submit(user=outsider, request=ghz(cast.qlab_experiment, 3))


def test_priced_job_reserves_its_estimate(cast):
    price("qsim", "2.50")
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim")).job
    assert Hold.objects.get(job=job).amount_micros == 2_500_000
    assert Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros == 2_500_000


def test_rerun_submits_the_same_request_again_forcing_execution(cast):
    first = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, labels=["x"])).job
    again = job_rerun(user=cast.alice, job_id=first.pk)

    assert again.pk != first.pk and again.no_cache
    assert (again.family, again.params, again.labels, again.fingerprint) == (
        first.family,
        first.params,
        first.labels,
        first.fingerprint,
    )
    assert again.status == JobStatus.QUEUED


def test_a_caller_may_fix_the_simulator_seed_and_a_bad_seed_names_the_field(cast):
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment), seed=1234).job
    assert job.seed == 1234
    with pytest.raises(Invalid) as refused:
        job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, shots=300), seed=-1)
    assert refused.value.field == "seed"
