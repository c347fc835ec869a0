"""Approvals: a second person with the approver role signs off costly or hardware jobs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from budgets.errors import Conflict, Forbidden, NotFound
from budgets.models import AuditEvent, Budget, Hold, HoldStatus
from jobs.models import Approval, ApprovalStatus, Job, JobEvent, JobStatus
from jobs.selectors import approvals_pending_for_user
from jobs.services import approval_decide, approvals_expire, job_quote, job_submit
from tests import factories
from tests.jobs.orch_support import enqueued_job_ids, ghz, price

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (DATABASE_URL)"
)


def _awaiting(cast, user=None) -> Job:
    """A job on qsim priced at 20.00, above qlab's 10.00 approval threshold."""
    price("qsim", "20.00")
    job = job_submit(user=user or cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim")).job
    assert job.status == JobStatus.AWAITING_APPROVAL
    return job


def _reserved(cast) -> int:
    return Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros


def test_costly_job_waits_for_approval_and_approvers_are_mailed(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = _awaiting(cast)

    approval = Approval.objects.get(job=job)
    assert approval.status == ApprovalStatus.PENDING
    assert "above the approval threshold" in approval.reasons[0]
    assert timedelta(hours=71) < approval.expires_at - timezone.now() <= timedelta(hours=72)
    assert enqueued_job_ids() == []
    assert _reserved(cast) == 20_000_000
    assert [m.to for m in mail.outbox] == [["bob@example.org"]]
    assert "approval needed" in mail.outbox[0].subject


def test_approve_queues_the_job_and_tells_the_submitter(cast, django_capture_on_commit_callbacks):
    job = _awaiting(cast)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        approved = approval_decide(user=cast.bob, job_id=job.pk, decision="approve", comment="go ahead")

    assert approved.status == JobStatus.QUEUED
    assert enqueued_job_ids() == [str(job.pk)]
    approval = Approval.objects.get(job=job)
    assert (approval.status, approval.decided_by, approval.comment) == (ApprovalStatus.APPROVED, cast.bob, "go ahead")
    event = JobEvent.objects.filter(job=job, to_status=JobStatus.QUEUED).get()
    assert (event.actor, event.reason) == (cast.bob, "go ahead")
    assert [m.to for m in mail.outbox] == [["alice@example.org"]] and "approved" in mail.outbox[0].subject
    assert AuditEvent.objects.filter(action="job.approve", actor=cast.bob, target=f"job:{job.pk}").exists()


def test_reject_releases_the_hold(cast, django_capture_on_commit_callbacks):
    job = _awaiting(cast)

    with django_capture_on_commit_callbacks(execute=True):
        rejected = approval_decide(user=cast.bob, job_id=job.pk, decision="reject", comment="too expensive")

    assert rejected.status == JobStatus.REJECTED
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED
    assert _reserved(cast) == 0
    assert enqueued_job_ids() == []


def test_submitter_cannot_approve_their_own_job(cast):
    job = _awaiting(cast, user=cast.bob)  # bob is an approver, but it is his job
    with pytest.raises(Forbidden, match="you cannot approve your own job"):
        approval_decide(user=cast.bob, job_id=job.pk, decision="approve")
    erin = factories.make_user("erin", cast.qlab, "approver")
    assert approval_decide(user=erin, job_id=job.pk, decision="approve").status == JobStatus.QUEUED


def test_researcher_cannot_approve(cast):
    job = _awaiting(cast, user=cast.bob)
    with pytest.raises(Forbidden):
        approval_decide(user=cast.alice, job_id=job.pk, decision="approve")
    assert Approval.objects.get(job=job).status == ApprovalStatus.PENDING


def test_approver_of_another_team_gets_not_found(cast):
    job = _awaiting(cast)
    with pytest.raises(NotFound):
        approval_decide(user=cast.dave, job_id=job.pk, decision="approve")
    assert Approval.objects.get(job=job).status == ApprovalStatus.PENDING


def test_a_decision_cannot_be_made_twice(cast):
    job = _awaiting(cast)
    approval_decide(user=cast.bob, job_id=job.pk, decision="reject")
    erin = factories.make_user("erin", cast.qlab, "approver")
    with pytest.raises(Conflict, match="already decided by bob"):
        approval_decide(user=erin, job_id=job.pk, decision="approve")


def test_expired_approval_cannot_be_used_and_the_sweeper_rejects_the_job(cast):
    job = _awaiting(cast)
    Approval.objects.filter(job=job).update(expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(Conflict, match="expired"):
        approval_decide(user=cast.bob, job_id=job.pk, decision="approve")

    assert approvals_expire() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED
    assert JobEvent.objects.filter(job=job, to_status=JobStatus.REJECTED, reason="approval expired").exists()
    assert Approval.objects.get(job=job).status == ApprovalStatus.EXPIRED
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED and _reserved(cast) == 0
    assert approvals_expire() == 0


def test_approver_may_move_the_job_to_a_cheaper_backend(cast):
    job = _awaiting(cast)
    approved = approval_decide(user=cast.bob, job_id=job.pk, decision="approve", backend="aer", shots=500)

    assert (approved.status, approved.backend, approved.shots) == (JobStatus.QUEUED, "aer", 500)
    assert Hold.objects.get(job=job).amount_micros == 0 and _reserved(cast) == 0
    changes = Approval.objects.get(job=job).changes
    assert changes["before"]["backend"] == "qsim" and changes["after"] == {
        "backend": "aer",
        "shots": 500,
        "cost_micros": 0,
    }


def test_a_paused_job_cannot_be_decided_until_resumed(cast):
    from jobs.services import job_pause

    job = _awaiting(cast)
    job_pause(user=cast.alice, job_id=job.pk)
    with pytest.raises(Conflict, match="job is paused"):
        approval_decide(user=cast.bob, job_id=job.pk, decision="approve")


def test_approver_inbox_lists_the_teams_pending_jobs_and_marks_their_own(cast):
    alices = _awaiting(cast)
    bobs = job_submit(user=cast.bob, request=ghz(cast.qlab_experiment, 4, backend="qsim")).job

    inbox = list(approvals_pending_for_user(cast.bob))
    assert [(a.job_id, a.is_own) for a in inbox] == [(alices.pk, False), (bobs.pk, True)]
    assert list(approvals_pending_for_user(cast.alice)) == []  # a researcher has no inbox
    assert list(approvals_pending_for_user(cast.dave)) == []  # another team's approver sees nothing


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_approvers_deciding_at_once_make_one_decision(cast):
    job = _awaiting(cast)
    erin = factories.make_user("erin", cast.qlab, "approver")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def decide(user, decision) -> None:
        try:
            barrier.wait()
            outcomes[user.username] = approval_decide(user=user, job_id=job.pk, decision=decision)
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes[user.username] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(cast.bob, "approve")),
        threading.Thread(target=decide, args=(erin, "reject")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    winners = [name for name, o in outcomes.items() if isinstance(o, Job)]
    losers = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert f"already decided by {winners[0]}" in losers[0].message
    job.refresh_from_db()
    assert job.status == (JobStatus.QUEUED if winners == ["bob"] else JobStatus.REJECTED)
    assert JobEvent.objects.filter(job=job, from_status=JobStatus.AWAITING_APPROVAL).count() == 1


def test_class_that_parks_over_budget_jobs_waits_for_approval_and_room(cast):
    from budgets.errors import BudgetExceeded
    from budgets.money import to_micros
    from budgets.services import budget_set

    cast.klass.park_over_budget = True
    cast.klass.save()
    price("qsim", "150.00")  # the budget's limit is 100.00
    quote = job_quote(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim"))
    assert quote.needs_approval and not quote.within_budget
    assert "parked for approval" in quote.approval_reasons[-1]

    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim")).job

    assert job.status == JobStatus.AWAITING_APPROVAL
    assert any(r.startswith("over budget") for r in Approval.objects.get(job=job).reasons)
    assert not Hold.objects.filter(job=job).exists() and _reserved(cast) == 0

    with pytest.raises(BudgetExceeded):
        approval_decide(user=cast.bob, job_id=job.pk, decision="approve")
    assert Approval.objects.get(job=job).status == ApprovalStatus.PENDING

    budget_set(team=cast.qlab, experiment_class=cast.klass, limit_micros=to_micros("200.00"))
    assert approval_decide(user=cast.bob, job_id=job.pk, decision="approve").status == JobStatus.QUEUED
    assert Hold.objects.get(job=job).amount_micros == 150_000_000 and _reserved(cast) == 150_000_000
