"""Submitting a batch (a parameter sweep): every job as a single submit would make it, in one
transaction, all or nothing, in a number of statements that does not grow with the batch."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.models import OrmQ

from budgets.errors import BudgetExceeded, Forbidden, Invalid, NotFound
from budgets.models import AuditEvent, Budget, Hold, LedgerEntry
from jobs import tasks
from jobs.models import Approval, IdempotencyKey, Job, JobEvent, JobStatus
from jobs.services import job_quote, job_submit, job_submit_batch, seed_for
from tests import factories
from tests.jobs.orch_support import enqueued_job_ids, ghz, price


class _Rollback(Exception):
    pass


def _ran(cast, request: dict[str, Any]) -> Job:
    """A job that really ran on the simulator (the worker's task, called in-process)."""
    job = job_submit(user=cast.alice, request=request).job
    tasks.run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


def _task(job: Job) -> dict[str, Any] | None:
    """The job's task as a worker unpacks it, without what differs between any two tasks."""
    for row in OrmQ.objects.all():
        task = row.task
        if task["args"] == (str(job.pk),):
            rest = {k: v for k, v in task.items() if k not in ("id", "started", "args")}
            return {**rest, "name": task["name"].replace(str(job.pk), "<job>"), "cluster_row": row.key}
    return None


def _outcome(job: Job) -> dict[str, Any]:
    """What a user can see of a submitted job, minus its id and timestamps."""
    job.refresh_from_db()
    hold = Hold.objects.filter(job=job).first()
    approval = Approval.objects.filter(job=job).first()
    audit = AuditEvent.objects.get(action="job.submit", target=f"job:{job.pk}")
    return {
        "status": job.status,
        "backend": job.backend,
        "tier": job.tier,
        "policy_reasons": job.policy_reasons,
        "estimate": job.estimate,
        "fingerprint": job.fingerprint,
        "needs_approval": job.needs_approval,
        "cached_from": job.cached_from_id,
        "counts": job.counts,
        "seed_from_own_id": job.seed == seed_for(job.pk),
        "hold": (hold.amount_micros, hold.status) if hold else None,
        "ledger": list(LedgerEntry.objects.filter(hold__job=job).values_list("kind", "amount_micros")),
        "approval": (approval.status, approval.reasons) if approval else None,
        "events": [
            (e.stage, e.from_status, e.to_status, e.reason, e.actor_label, e.data)
            for e in JobEvent.objects.filter(job=job).order_by("created_at", "id")
        ],
        "task": _task(job),
        "audit": {k: v for k, v in audit.detail.items() if k != "trace_id"},
    }


def _singly(cast, requests: list[dict[str, Any]]) -> list[dict[str, Any]] | BaseException:
    """The outcomes of submitting `requests` one by one — or the refusal — then rolled back."""
    outcomes: list[dict[str, Any]] = []
    try:
        with transaction.atomic():
            outcomes = [_outcome(job_submit(user=cast.alice, request=r).job) for r in requests]
            raise _Rollback
    except _Rollback:
        return outcomes
    except Exception as exc:  # noqa: BLE001 - the refusal is the outcome
        return exc


def _counts() -> dict[str, int]:
    models = (Job, JobEvent, Hold, LedgerEntry, Approval, OrmQ, IdempotencyKey, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


def _reserved(cast) -> int:
    return Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros


def test_a_mixed_batch_gives_every_job_what_a_single_submit_would(cast):
    ran = _ran(cast, ghz(cast.qlab_experiment, 3))
    price("cirq", "20.00")  # above the 10.00 approval threshold
    e = cast.qlab_experiment.pk
    requests = [
        {"experiment": e, "family": "bell", "params": {}, "shots": 300},
        ghz(cast.qlab_experiment, 5, priority="batch"),
        {"experiment": e, "family": "random", "params": {"n_qubits": 4, "depth": 3, "seed": 1}, "max_tier": 2},
        ghz(cast.qlab_experiment, 3),  # the job that ran: served from its result
        ghz(cast.qlab_experiment, 4, backend="cirq"),  # 20.00: waits for a sign-off
    ]
    expected = _singly(cast, requests)

    result = job_submit_batch(user=cast.alice, requests=requests)

    assert not result.replayed and result.status_code == 201
    got = [_outcome(job) for job in result.jobs]
    assert got == expected
    assert [j.status for j in result.jobs] == ["queued", "queued", "queued", "succeeded", "awaiting_approval"]
    assert [j.family for j in result.jobs] == ["bell", "ghz", "random", "ghz", "ghz"]
    assert result.jobs[2].backend != "qsim" and result.jobs[2].tier == 2  # the noisy family got noise
    assert result.jobs[3].cached_from_id == ran.pk and result.jobs[3].counts == ran.counts
    assert [t["cluster"] for t in (_task(j) for j in result.jobs) if t] == ["interactive", "batch", "interactive"]
    assert len({job.pk for job in result.jobs}) == 5 and len({job.trace_id for job in result.jobs}) == 1
    assert list(Job.objects.order_by("created_at").values_list("pk", flat=True))[1:] == [j.pk for j in result.jobs]


def test_a_sweep_reserves_job_by_job_and_a_later_job_sees_what_earlier_ones_took(cast):
    for backend in ("qsim", "cirq", "aer"):
        price(backend, "40.00")  # every tier-0 backend; the budget is 100.00
    sweep = [ghz(cast.qlab_experiment, 3, shots=100 + i) for i in range(3)]

    with pytest.raises(BudgetExceeded) as refused:
        job_submit_batch(user=cast.alice, requests=sweep)

    assert refused.value.field == "jobs[2].budget"
    assert "20.00 left in the budget" in refused.value.message  # 100 − 2 × 40
    assert _singly(cast, sweep).message == refused.value.message
    assert _reserved(cast) == 0 and Job.objects.count() == 0

    result = job_submit_batch(user=cast.alice, requests=sweep[:2])
    assert [Hold.objects.get(job=j).amount_micros for j in result.jobs] == [40_000_000, 40_000_000]
    assert _reserved(cast) == 80_000_000


def test_a_cache_hit_early_in_a_batch_leaves_its_money_to_the_later_jobs(cast):
    for backend in ("qsim", "cirq", "aer"):
        price(backend, "60.00")  # the budget (100.00) pays for one such job
    quote = job_quote(user=cast.alice, request=ghz(cast.qlab_experiment, 3))
    stored = factories.make_job(
        cast.qlab_experiment,
        cast.alice,
        status=JobStatus.SUCCEEDED,
        backend=quote.backend,
        fingerprint=quote.fingerprint,
        counts={"000": 100, "111": 100},
        finished_at=timezone.now(),
    )
    requests = [ghz(cast.qlab_experiment, 3), ghz(cast.qlab_experiment, 3, no_cache=True)]
    expected = _singly(cast, requests)

    result = job_submit_batch(user=cast.alice, requests=requests)

    assert [_outcome(job) for job in result.jobs] == expected
    assert result.jobs[0].cached_from_id == stored.pk
    assert Hold.objects.get(job=result.jobs[1]).amount_micros == 60_000_000 == _reserved(cast)


def _refusals(cast) -> dict[str, tuple[dict[str, Any], type[Exception], str]]:
    return {
        "bad shots": (ghz(cast.qlab_experiment, 3, shots=0), Invalid, "jobs[1].shots"),
        "unknown family": ({**ghz(cast.qlab_experiment), "family": "teleport"}, Invalid, "jobs[1].family"),
        "bad params": (ghz(cast.qlab_experiment, 0), Invalid, "jobs[1].params.n_qubits"),
        "over budget": (ghz(cast.qlab_experiment, 4, backend="cirq"), BudgetExceeded, "jobs[1].budget"),
        "another team's experiment": (ghz(cast.optics_experiment, 3), NotFound, "jobs[1].experiment"),
        "tier not allowed": (
            ghz(cast.qlab_experiment, 3, backend="qsim-noisy", max_tier=2),
            Forbidden,
            "jobs[1].max_tier",
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["bad shots", "unknown family", "bad params", "over budget", "another team's experiment", "tier not allowed"],
)
def test_a_refused_job_refuses_the_batch_naming_it_and_nothing_is_written(
    cast, case, django_capture_on_commit_callbacks
):
    price("cirq", "60.00")  # the first job reserves 60.00 of 100.00; a second one does not fit
    Budget.objects.filter(pk=cast.qlab_budget.pk).update(max_tier=1)
    body, error, field = _refusals(cast)[case]
    requests = [ghz(cast.qlab_experiment, 3, backend="cirq"), body, ghz(cast.qlab_experiment, 5)]
    before = _counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(error) as refused:
        job_submit_batch(user=cast.alice, requests=requests, idempotency_key="sweep-1")

    assert refused.value.field == field
    single = _singly(cast, requests[:2])
    assert isinstance(single, error) and refused.value.message == single.message
    assert _counts() == before and callbacks == []
    assert _reserved(cast) == 0


@pytest.mark.parametrize("size", [0, 4])
def test_an_empty_or_oversized_batch_is_refused_naming_the_limit(cast, settings, size):
    settings.JOB_BATCH_MAX = 3
    with pytest.raises(Invalid) as refused:
        job_submit_batch(user=cast.alice, requests=[ghz(cast.qlab_experiment, 3, shots=100 + i) for i in range(size)])
    assert refused.value.field == "jobs"
    assert "1 to 3 jobs" in refused.value.message and f"has {size}" in refused.value.message
    assert Job.objects.count() == 0


def test_the_same_key_replays_the_batch_and_another_body_is_refused(cast):
    sweep = [ghz(cast.qlab_experiment, n) for n in (2, 3, 4)]
    first = job_submit_batch(user=cast.alice, requests=sweep, idempotency_key="sweep-7")
    again = job_submit_batch(user=cast.alice, requests=[dict(r) for r in sweep], idempotency_key="sweep-7")

    assert not first.replayed and again.replayed and again.status_code == 201
    assert [j.pk for j in again.jobs] == [j.pk for j in first.jobs]
    assert again.body == first.body == {"jobs": [{"id": str(j.pk)} for j in first.jobs]}
    assert Job.objects.count() == 3

    with pytest.raises(Invalid) as refused:
        job_submit_batch(user=cast.alice, requests=sweep[:2], idempotency_key="sweep-7")
    assert (refused.value.code, refused.value.field) == ("idempotency_mismatch", "Idempotency-Key")
    assert Job.objects.count() == 3


def test_a_sweep_of_fifty_jobs_queues_each_job_once(cast):
    sweep = [ghz(cast.qlab_experiment, 3, shots=100 + i) for i in range(50)]

    result = job_submit_batch(user=cast.alice, requests=sweep)

    assert [j.status for j in result.jobs] == ["queued"] * 50
    assert sorted(enqueued_job_ids()) == sorted(str(j.pk) for j in result.jobs)


def test_approvers_get_one_mail_for_a_batch_of_jobs_awaiting_sign_off(
    cast, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core import mail

    from jobs.services import notifications

    monkeypatch.setattr(notifications, "DIGEST_LISTED", 2)
    price("cirq", "20.00")  # above the 10.00 approval threshold
    requests = [ghz(cast.qlab_experiment, n, backend="cirq") for n in (2, 3, 4)]
    requests.append(ghz(cast.qlab_experiment, 3))  # free: queued, not in the mail

    with django_capture_on_commit_callbacks(execute=True):
        jobs = job_submit_batch(user=cast.alice, requests=requests).jobs

    assert [j.status for j in jobs] == ["awaiting_approval"] * 3 + ["queued"]
    assert Approval.objects.filter(job__in=jobs[:3], status="pending").count() == 3
    [message] = [m for m in mail.outbox if "approval needed" in m.subject]  # (and a budget alert: 60 %)
    assert message.to == ["bob@example.org"]
    assert message.subject == "[Hybrid Portal] approval needed: 3 jobs from alice"
    assert "Estimate in total: USD 60.00" in message.body
    assert all(f"/jobs/{j.pk}/" in message.body for j in jobs[:2])  # the first two are listed
    assert str(jobs[2].pk)[:8] not in message.body and "… and 1 more." in message.body
    assert str(jobs[3].pk)[:8] not in message.body
    assert "Decide at http://127.0.0.1:8000/approvals/" in message.body  # PORTAL_URL's default


def test_a_batch_with_one_job_awaiting_sign_off_mails_as_a_single_submit_does(cast, django_capture_on_commit_callbacks):
    from django.core import mail

    price("cirq", "20.00")
    requests = [ghz(cast.qlab_experiment, 3, backend="cirq"), ghz(cast.qlab_experiment, 3)]

    with django_capture_on_commit_callbacks(execute=True):
        job = job_submit_batch(user=cast.alice, requests=requests).jobs[0]

    [message] = [m for m in mail.outbox if "approval needed" in m.subject]
    assert message.subject == f"[Hybrid Portal] approval needed: ghz job {str(job.pk)[:8]} on cirq"
