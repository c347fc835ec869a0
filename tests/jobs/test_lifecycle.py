"""Pause, resume, cancel and reroute: legal moves work and leave an event; illegal ones are a Conflict."""

from __future__ import annotations

import pytest

from budgets.errors import Conflict, Invalid, NotFound
from budgets.models import Budget, Hold, HoldStatus
from jobs.lifecycle import transition
from jobs.models import Approval, ApprovalStatus, Job, JobEvent, JobStatus, Stage
from jobs.services import job_cancel, job_pause, job_reroute, job_resume, job_submit
from tests.jobs.orch_support import enqueued_job_ids, ghz, price


def _queued(cast, **overrides) -> Job:
    return job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, no_cache=True, **overrides)).job


def _awaiting(cast) -> Job:
    price("qsim", "20.00")  # above the 10.00 threshold
    job = _queued(cast, backend="qsim")
    assert job.status == JobStatus.AWAITING_APPROVAL
    return job


def _in(job: Job, status: str) -> Job:
    """Put a job in `status` the way the worker would (running) or the user did (terminal)."""
    path = {
        JobStatus.RUNNING: [JobStatus.RUNNING],
        JobStatus.SUCCEEDED: [JobStatus.RUNNING, JobStatus.SUCCEEDED],
        JobStatus.FAILED: [JobStatus.RUNNING, JobStatus.FAILED],
        JobStatus.CANCELLED: [JobStatus.CANCELLED],
    }[status]
    current = job.status
    for step in path:
        assert transition(job.pk, from_statuses=[current], to_status=step, actor_label="worker")
        current = step
    job.refresh_from_db()
    return job


def _last_transition(job: Job) -> JobEvent:
    return JobEvent.objects.filter(job=job, stage=Stage.LIFECYCLE).order_by("-id").first()


def test_a_transition_writes_its_stages_then_its_event_and_a_lost_one_writes_nothing(cast):
    """One statement on PostgreSQL, an UPDATE and an INSERT in a transaction on SQLite: the same record."""
    from datetime import timedelta

    from django.utils import timezone

    job = _queued(cast)
    t0 = timezone.now()
    stages = [
        (Stage.EXECUTE, t0, t0 + timedelta(milliseconds=250), {"backend": "qsim", "shots": 200}),
        (Stage.PARSE, t0 + timedelta(milliseconds=250), t0 + timedelta(milliseconds=260), {}),
    ]
    before = JobEvent.objects.filter(job=job).count()

    assert transition(
        job.pk,
        from_statuses=[JobStatus.QUEUED],
        to_status=JobStatus.RUNNING,
        actor=cast.bob,
        reason="by hand",
        data={"attempt": 1},
        stages=stages,
        expect={"attempts": 0},
        attempts=1,
    )
    # Lost: the status moved on, or the attempt count is not what the caller read.
    assert not transition(job.pk, from_statuses=[JobStatus.QUEUED], to_status=JobStatus.RUNNING, stages=stages)
    assert not transition(
        job.pk, from_statuses=[JobStatus.RUNNING], to_status=JobStatus.FAILED, expect={"attempts": 5}, stages=stages
    )

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    new = list(JobEvent.objects.filter(job=job).order_by("id"))[before:]
    assert [(e.stage, e.data, e.duration_ms) for e in new] == [
        (Stage.EXECUTE, {"backend": "qsim", "shots": 200}, pytest.approx(250.0)),
        (Stage.PARSE, {}, pytest.approx(10.0)),
        (Stage.LIFECYCLE, {"attempt": 1}, None),
    ]
    assert (new[0].started_at, new[0].ended_at) == (stages[0][1], stages[0][2])
    assert (new[2].actor, new[2].actor_label, new[2].reason) == (cast.bob, "bob", "by hand")
    assert (new[2].from_status, new[2].to_status) == (JobStatus.QUEUED, JobStatus.RUNNING)


def test_pause_and_resume_a_queued_job(cast, django_capture_on_commit_callbacks):
    job = _queued(cast)

    paused = job_pause(user=cast.bob, job_id=job.pk, reason="waiting for calibration")
    assert (paused.status, paused.paused_from) == (JobStatus.PAUSED, JobStatus.QUEUED)
    event = _last_transition(job)
    assert (event.actor, event.reason, event.from_status) == (cast.bob, "waiting for calibration", "queued")

    before = enqueued_job_ids()
    with django_capture_on_commit_callbacks(execute=True):
        resumed = job_resume(user=cast.alice, job_id=job.pk, reason="calibrated")
    assert (resumed.status, resumed.paused_from) == (JobStatus.QUEUED, "")
    assert enqueued_job_ids() == [*before, str(job.pk)]
    assert (_last_transition(job).actor, _last_transition(job).reason) == (cast.alice, "calibrated")


def test_pause_and_resume_a_job_awaiting_approval_returns_it_to_approval(cast, django_capture_on_commit_callbacks):
    job = _awaiting(cast)
    assert job_pause(user=cast.alice, job_id=job.pk).paused_from == JobStatus.AWAITING_APPROVAL
    with django_capture_on_commit_callbacks(execute=True):
        resumed = job_resume(user=cast.alice, job_id=job.pk)
    assert resumed.status == JobStatus.AWAITING_APPROVAL
    assert enqueued_job_ids() == []


@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_pausing_a_job_that_is_not_waiting_is_a_conflict(cast, status):
    job = _in(_queued(cast), status)
    with pytest.raises(Conflict) as err:
        job_pause(user=cast.alice, job_id=job.pk)
    assert err.value.message == f"job is {status}; it cannot be paused"
    job.refresh_from_db()
    assert job.status == status


def test_resuming_a_job_that_is_not_paused_is_a_conflict(cast):
    job = _queued(cast)
    with pytest.raises(Conflict, match="job is queued; it cannot be resumed"):
        job_resume(user=cast.alice, job_id=job.pk)


@pytest.mark.parametrize("start", ["queued", "paused", "awaiting_approval", "running"])
def test_cancel_from_every_live_status_releases_the_hold(cast, start):
    job = _awaiting(cast) if start == "awaiting_approval" else _queued(cast)
    if start == "paused":
        job_pause(user=cast.alice, job_id=job.pk)
    elif start == "running":
        _in(job, JobStatus.RUNNING)

    cancelled = job_cancel(user=cast.bob, job_id=job.pk, reason="wrong parameters")

    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at is not None
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED
    assert Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros == 0
    event = _last_transition(job)
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        start,
        "cancelled",
        cast.bob,
        "wrong parameters",
    )
    if start == "awaiting_approval":
        assert Approval.objects.get(job=job).status == ApprovalStatus.WITHDRAWN


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancelling_a_finished_job_is_a_conflict(cast, status):
    job = _in(_queued(cast), status)
    with pytest.raises(Conflict, match=f"job is {status}; it cannot be cancelled"):
        job_cancel(user=cast.alice, job_id=job.pk)


def test_reroute_a_queued_job_to_another_simulator(cast, django_capture_on_commit_callbacks):
    job = _queued(cast)
    old_fingerprint = job.fingerprint
    before = enqueued_job_ids()

    with django_capture_on_commit_callbacks(execute=True):
        moved = job_reroute(user=cast.alice, job_id=job.pk, backend="aer", reason="compare with aer")

    assert (moved.status, moved.backend, moved.tier) == (JobStatus.QUEUED, "aer", 0)
    assert moved.fingerprint != old_fingerprint
    assert moved.estimate["backend"] == "aer" and "pinned" in moved.policy_reasons[0]
    assert enqueued_job_ids() == [*before, str(job.pk)]
    event = _last_transition(job)
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        "queued",
        "queued",
        cast.alice,
        "compare with aer",
    )


def test_reroute_of_a_paused_job_requeues_it(cast):
    job = _queued(cast)
    job_pause(user=cast.alice, job_id=job.pk)
    moved = job_reroute(user=cast.alice, job_id=job.pk, backend="cirq")
    assert (moved.status, moved.backend, moved.paused_from) == (JobStatus.QUEUED, "cirq", "")


def test_reroute_to_a_costly_backend_adjusts_the_hold_and_asks_for_approval(cast):
    job = _queued(cast)
    price("aer", "25.00")

    moved = job_reroute(user=cast.alice, job_id=job.pk, backend="aer")

    assert moved.status == JobStatus.AWAITING_APPROVAL and moved.needs_approval
    assert Hold.objects.get(job=job).amount_micros == 25_000_000
    assert Approval.objects.get(job=job).status == ApprovalStatus.PENDING


def test_reroute_of_an_awaiting_job_to_a_free_backend_skips_approval(cast):
    job = _awaiting(cast)
    moved = job_reroute(user=cast.alice, job_id=job.pk, backend="aer")
    assert moved.status == JobStatus.QUEUED and not moved.needs_approval
    assert Hold.objects.get(job=job).amount_micros == 0
    assert Approval.objects.get(job=job).status == ApprovalStatus.WITHDRAWN


@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.SUCCEEDED])
def test_reroute_of_a_running_or_finished_job_is_refused(cast, status):
    job = _in(_queued(cast), status)
    with pytest.raises(Conflict, match=f"job is {status}; it cannot be rerouted"):
        job_reroute(user=cast.alice, job_id=job.pk, backend="aer")


def test_reroute_to_an_unknown_or_too_high_backend_changes_nothing(cast):
    job = _queued(cast)
    with pytest.raises(Invalid) as err:
        job_reroute(user=cast.alice, job_id=job.pk, backend="qpu-9000")
    assert err.value.field == "backend"
    with pytest.raises(Invalid, match="above max_tier"):
        job_reroute(user=cast.alice, job_id=job.pk, backend="qsim-noisy")
    job.refresh_from_db()
    assert (job.status, job.backend) == (JobStatus.QUEUED, "qsim")


@pytest.mark.parametrize("control", [job_pause, job_resume, job_cancel])
def test_another_team_cannot_see_let_alone_control_a_job(cast, control):
    job = _queued(cast)
    with pytest.raises(NotFound):
        control(user=cast.carol, job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_cancelling_a_job_submitted_to_emulated_hardware_cancels_it_at_the_vendor(
    cast, django_capture_on_commit_callbacks
):
    from adapters import registry
    from adapters.base import RemoteState
    from jobs import tasks
    from jobs.services import approval_decide

    body = ghz(cast.qlab_experiment, 3, no_cache=True, backend="ibm:fake_manila", max_tier=3, shots=100)
    job = job_submit(user=cast.alice, request=body).job
    approval_decide(user=cast.bob, job_id=job.pk, decision="approve")  # hardware needs a sign-off
    tasks.submit_hardware_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.remote_id

    with django_capture_on_commit_callbacks(execute=True):
        job_cancel(user=cast.alice, job_id=job.pk, reason="not needed")

    assert registry.get_adapter("ibm:fake_manila").poll(job.remote_id).state is RemoteState.CANCELLED
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED
