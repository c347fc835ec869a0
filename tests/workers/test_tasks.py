"""The worker tasks called in this process: routing, claims, retries, failures, the reaper.

Real adapters throughout; failure injection is a small test backend registered in the registry that
raises the scripted vendor errors and otherwise runs qsim.
"""

from __future__ import annotations

import dataclasses
import io
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from adapters import registry
from adapters.base import (
    Adapter,
    CapacityError,
    ExecutionRequest,
    PermanentBackendError,
    RemoteState,
    TransientBackendError,
)
from adapters.config import BackendConfig
from adapters.ibm import IbmAdapter, queue_delay_seconds
from budgets.models import Budget, Hold, HoldStatus, LedgerEntry, LedgerKind
from budgets.services import hold_reserve
from jobs import execution, reaper, tasks
from jobs.models import Job, JobEvent, JobStatus, Stage
from tests.jobs.orch_support import price
from tests.workers.conftest import queued_job


class ScriptedBackend(Adapter):
    """A backend that fails as scripted (one error per run, in order), then runs the circuit on qsim."""

    backend_id = "test-scripted"

    def __init__(self, errors: list[Exception], before_run: Callable[[ExecutionRequest], None] | None = None):
        self.errors = list(errors)
        self.before_run = before_run
        self.inner = registry.get_adapter("qsim")
        self.runs = 0

    def capabilities(self) -> Any:
        return dataclasses.replace(self.inner.capabilities(), backend_id=self.backend_id)

    def estimate(self, request: ExecutionRequest) -> Any:
        return self.inner.estimate(request)

    def submit(self, request: ExecutionRequest) -> str:
        self.runs += 1
        if self.before_run is not None:
            self.before_run(request)
        if self.errors:
            raise self.errors.pop(0)
        return self.inner.submit(request)

    def poll(self, remote_id: str) -> Any:
        return self.inner.poll(remote_id)

    def result(self, remote_id: str) -> Any:
        return self.inner.result(remote_id)

    def cancel(self, remote_id: str) -> bool:
        return self.inner.cancel(remote_id)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ScriptedBackend]:
    def install(*errors: Exception, before_run: Callable[[ExecutionRequest], None] | None = None) -> ScriptedBackend:
        backend = ScriptedBackend(list(errors), before_run)
        monkeypatch.setitem(registry._adapters, backend.backend_id, backend)
        return backend

    return install


def held_job(cast: Any, amount_micros: int = 250_000, **fields: Any) -> Job:
    job = queued_job(cast, **fields)
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=amount_micros)
    return job


def executions(job: Job) -> int:
    return JobEvent.objects.filter(job=job, stage=Stage.EXECUTE).count()


def run_job_tasks() -> list[tuple[str, str]]:
    """(cluster, function) of every task waiting in the broker."""
    return [(row.key, row.task["func"]) for row in OrmQ.objects.all()]


# --- routing ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_jobs_are_routed_to_the_cluster_for_their_priority_and_tier(cast: Any) -> None:
    interactive = queued_job(cast, priority="interactive")
    batch = queued_job(cast, priority="batch", tier=1, backend="aer-mps")
    hardware = queued_job(cast, priority="interactive", tier=3, backend="ibm:fake_manila")

    for job in (interactive, batch, hardware):
        tasks.enqueue_job(job.pk)

    by_job = {row.task["args"][0]: (row.key, row.task["func"]) for row in OrmQ.objects.all()}
    assert by_job == {
        str(interactive.pk): ("interactive", "jobs.tasks.run_job"),
        str(batch.pk): ("batch", "jobs.tasks.run_job"),
        str(hardware.pk): ("hardware", "jobs.tasks.submit_hardware_job"),
    }


@pytest.mark.django_db
def test_schedules_name_their_cluster_and_are_created_once() -> None:
    tasks.ensure_schedules()
    tasks.ensure_schedules()

    schedules = {s.name: (s.func, s.cluster) for s in Schedule.objects.filter(name__startswith="jobs.")}
    assert schedules == {
        "jobs.reap_jobs": ("jobs.reaper.reap_jobs", "interactive"),
        "jobs.poll_hardware_jobs": ("jobs.tasks.poll_hardware_jobs", "hardware"),
    }


# --- a run --------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_run_stores_counts_timeline_fidelity_and_settles_the_hold(cast: Any) -> None:
    job = held_job(cast, family="ghz", params={"n_qubits": 4}, shots=800)

    assert tasks.run_job(str(job.pk)) == "succeeded"

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert sum(job.counts.values()) == 800
    assert set(job.counts) <= {"0000", "1111"}
    assert job.metrics["hellinger_fidelity"] > 0.98
    assert job.result_meta["seed"] == 1234
    assert job.result_meta["execute_seconds"] > 0
    assert job.result_meta["sdk_versions"]
    assert job.attempts == 1 and job.finished_at is not None
    stages = list(JobEvent.objects.filter(job=job).exclude(stage=Stage.LIFECYCLE).values_list("stage", flat=True))
    assert stages == [Stage.QUEUE_WAIT, Stage.TRANSPILE, Stage.EXECUTE, Stage.PARSE, Stage.POSTPROCESS]
    hold = Hold.objects.get(job=job)
    assert hold.status == HoldStatus.SETTLED and hold.settled_micros == job.cost_micros == 0
    assert Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros == 0


def test_a_run_is_charged_at_the_admins_current_price_for_its_backend(cast: Any) -> None:
    """The worker reads the backend's price override with the job: a price set after submission is
    the one charged, and the rest of the hold goes back to the budget."""
    job = held_job(cast, amount_micros=1_500_000, shots=300)
    price("qsim", "1.20")

    assert tasks.run_job(str(job.pk)) == "succeeded"

    job.refresh_from_db()
    assert job.cost_micros == 1_200_000
    hold = Hold.objects.get(job=job)
    assert hold.status == HoldStatus.SETTLED and hold.settled_micros == 1_200_000
    budget = Budget.objects.get(pk=cast.qlab_budget.pk)
    assert (budget.spent_micros, budget.reserved_micros) == (1_200_000, 0)


def test_a_free_run_settles_its_zero_hold_in_the_ledger(cast: Any) -> None:
    job = held_job(cast, amount_micros=0)

    assert tasks.run_job(str(job.pk)) == "succeeded"

    hold = Hold.objects.get(job=job)
    assert hold.status == HoldStatus.SETTLED and hold.settled_micros == 0 and hold.closed_at is not None
    entries = list(LedgerEntry.objects.filter(hold=hold).order_by("pk").values_list("kind", "amount_micros", "memo"))
    assert [(kind, amount) for kind, amount, _ in entries] == [(LedgerKind.RESERVE, 0), (LedgerKind.SETTLE, 0)]
    assert entries[1][2].startswith(f"job {job.pk}: actual ")
    assert tasks.run_job(str(job.pk)) == "skipped (succeeded)"  # a second delivery settles nothing again
    assert LedgerEntry.objects.filter(hold=hold).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_at_once_executes_the_circuit_once(cast: Any) -> None:
    job = queued_job(cast, family="qft", params={"n_qubits": 12})
    barrier = threading.Barrier(2)

    def deliver() -> str:
        barrier.wait()
        try:
            return tasks.run_job(str(job.pk))
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: deliver(), range(2)))

    assert outcomes[1] == "succeeded"
    assert outcomes[0].startswith("skipped")
    assert tasks.run_job(str(job.pk)) == "skipped (succeeded)"  # a late third delivery
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1
    assert executions(job) == 1


@pytest.mark.django_db
def test_a_paused_job_is_not_run(cast: Any) -> None:
    job = queued_job(cast, status=JobStatus.PAUSED, paused_from=JobStatus.QUEUED)

    assert tasks.run_job(str(job.pk)) == "skipped (paused)"
    assert executions(job) == 0


# --- vendor errors --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_transient_error_is_retried_after_a_backoff_and_then_succeeds(
    cast: Any, scripted: Callable[..., ScriptedBackend], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOB_RETRY_BACKOFF_SECONDS = 0.3
    backend = scripted(TransientBackendError("busy", vendor_message="503: backend busy, try later"))
    job = held_job(cast, backend=backend.backend_id)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_job(str(job.pk)) == "retrying"

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 1
    assert job.error_message == "503: backend busy, try later"
    assert job.not_before > timezone.now()
    retry = OrmQ.objects.get()
    assert retry.key == "interactive" and retry.lock == job.not_before  # no cluster pulls it earlier
    assert tasks.run_job(str(job.pk)) == "deferred"

    time.sleep((job.not_before - timezone.now()).total_seconds() + 0.05)
    assert tasks.run_job(str(job.pk)) == "succeeded"

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and job.error_message == ""
    assert backend.runs == 2 and executions(job) == 1
    assert Hold.objects.get(job=job).status == HoldStatus.SETTLED


@pytest.mark.django_db
def test_transient_errors_fail_the_job_after_the_attempt_limit(
    cast: Any, scripted: Callable[..., ScriptedBackend], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOB_RETRY_BACKOFF_SECONDS = 0.01
    settings.JOB_MAX_ATTEMPTS = 3
    backend = scripted(*(TransientBackendError("busy", vendor_message="503: backend busy") for _ in range(3)))
    job = held_job(cast, backend=backend.backend_id)
    delays = []

    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.run_job(str(job.pk))
        job.refresh_from_db()
        if job.not_before:
            delays.append((job.not_before - job.updated_at).total_seconds())
            time.sleep(max(0.0, (job.not_before - timezone.now()).total_seconds()) + 0.02)

    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert job.error_code == "backend_transient"
    assert job.error_message == "503: backend busy (gave up after 3 attempts)"
    assert len(delays) == 2 and delays[1] > delays[0]  # exponential backoff
    assert backend.runs == 3 and executions(job) == 0
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED


@pytest.mark.parametrize(
    "error",
    [
        PermanentBackendError("rejected", vendor_message="1517: circuit uses a gate the device lacks"),
        CapacityError("too wide", vendor_message="circuit needs 40 qubits; backend has 30"),
    ],
)
@pytest.mark.django_db
def test_a_permanent_error_fails_at_once_keeping_the_vendor_message(
    cast: Any, scripted: Callable[..., ScriptedBackend], error: Exception
) -> None:
    backend = scripted(error)
    job = held_job(cast, backend=backend.backend_id)

    assert tasks.run_job(str(job.pk)) == "failed"

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1 and backend.runs == 1
    assert job.error_code == error.code
    assert job.error_message == error.vendor_message
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED
    assert Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros == 0
    assert OrmQ.objects.count() == 0  # not retried


@pytest.mark.django_db
def test_a_job_cancelled_while_running_keeps_no_result_and_costs_nothing(
    cast: Any, scripted: Callable[..., ScriptedBackend]
) -> None:
    from jobs.services import job_cancel

    backend = scripted(before_run=lambda request: job_cancel(user=cast.alice, job_id=request.job_id))
    job = held_job(cast, backend=backend.backend_id)

    assert tasks.run_job(str(job.pk)).startswith("discarded")

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.counts is None and job.cost_micros is None
    assert executions(job) == 0
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED


@pytest.mark.django_db
def test_a_free_job_cancelled_while_running_settles_nothing(
    cast: Any, scripted: Callable[..., ScriptedBackend]
) -> None:
    """Its result, hold settlement and ledger entry are one transaction that depends on the job still
    running: the cancel wins, and the hold is released instead."""
    from jobs.services import job_cancel

    backend = scripted(before_run=lambda request: job_cancel(user=cast.alice, job_id=request.job_id))
    job = held_job(cast, amount_micros=0, backend=backend.backend_id)

    assert tasks.run_job(str(job.pk)).startswith("discarded")

    hold = Hold.objects.get(job=job)
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED and hold.status == HoldStatus.RELEASED
    assert not LedgerEntry.objects.filter(hold=hold, kind=LedgerKind.SETTLE).exists()


@pytest.mark.django_db
def test_a_free_hold_closed_while_its_job_ran_is_left_as_it_is(
    cast: Any, scripted: Callable[..., ScriptedBackend]
) -> None:
    from budgets.services import hold_release

    def release(request: ExecutionRequest) -> None:
        hold_release(job=Job.objects.get(pk=request.job_id), reason="expired")

    backend = scripted(before_run=release)
    job = held_job(cast, amount_micros=0, backend=backend.backend_id)

    assert tasks.run_job(str(job.pk)) == "succeeded"

    hold = Hold.objects.get(job=job)
    assert Job.objects.get(pk=job.pk).counts and hold.status == HoldStatus.RELEASED
    assert not LedgerEntry.objects.filter(hold=hold, kind=LedgerKind.SETTLE).exists()


# --- the reaper -----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_reaper_requeues_a_job_whose_worker_died(cast: Any, django_capture_on_commit_callbacks: Any) -> None:
    now = timezone.now()
    job = held_job(cast, status=JobStatus.RUNNING, attempts=1, started_at=now, deadline=now + timedelta(minutes=10))

    assert reaper.reap_jobs(now=now + timedelta(minutes=5))["requeued"] == 0  # still inside its deadline
    with django_capture_on_commit_callbacks(execute=True):
        assert reaper.reap_jobs(now=now + timedelta(minutes=11))["requeued"] == 1

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.deadline is None
    assert run_job_tasks() == [("interactive", "jobs.tasks.run_job")]
    assert tasks.run_job(str(job.pk)) == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 2 and executions(job) == 1


@pytest.mark.django_db
def test_the_reaper_fails_a_job_whose_worker_died_three_times(cast: Any) -> None:
    job = held_job(cast)
    outcomes = []
    for _ in range(3):
        # A worker claims the job and dies (kill -9, OOM) before finishing: its deadline passes.
        now = timezone.now()
        assert execution.job_claim(job, now=now, deadline=now - timedelta(seconds=1)) is not None
        outcomes.append(reaper.reap_jobs(now=now))

    assert [(o["requeued"], o["failed"]) for o in outcomes] == [(1, 0), (1, 0), (0, 1)]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "worker_died"
    assert job.error_message.startswith("worker died 3 times")
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED
    assert executions(job) == 0


@pytest.mark.django_db
def test_the_reaper_enqueues_a_queued_job_whose_task_was_lost(cast: Any) -> None:
    lost = queued_job(cast)
    waiting = queued_job(cast)
    tasks.enqueue_job(waiting.pk)
    backing_off = queued_job(cast, not_before=timezone.now() + timedelta(hours=2))
    later = timezone.now() + timedelta(minutes=5)

    assert reaper.reap_jobs(now=timezone.now())["reenqueued"] == 0  # just queued: its task may be on its way
    assert reaper.reap_jobs(now=later)["reenqueued"] == 1

    enqueued = sorted(row.task["args"][0] for row in OrmQ.objects.all())
    assert enqueued == sorted([str(lost.pk), str(waiting.pk)])
    assert str(backing_off.pk) not in enqueued


@pytest.mark.django_db
def test_the_reaper_purges_old_task_successes_and_keeps_failures(settings: Any) -> None:
    settings.Q_SUCCESS_KEEP_HOURS = 24
    now = timezone.now()

    def record(name: str, *, success: bool, age: timedelta) -> None:
        Task.objects.create(
            id=name, name=name, func="jobs.tasks.reap_jobs", started=now - age, stopped=now - age, success=success
        )

    record("old-success", success=True, age=timedelta(hours=25))
    record("new-success", success=True, age=timedelta(hours=1))
    record("old-failure", success=False, age=timedelta(days=30))

    assert reaper.reap_jobs(now=now)["task_results_purged"] == 1
    assert sorted(Task.objects.values_list("name", flat=True)) == ["new-success", "old-failure"]


@pytest.mark.django_db
def test_the_reap_jobs_command_reports_what_it_returned_to_the_queue(cast: Any) -> None:
    past = timezone.now() - timedelta(minutes=20)
    job = queued_job(cast, status=JobStatus.RUNNING, attempts=1, started_at=past, deadline=past + timedelta(minutes=10))
    out = io.StringIO()

    call_command("reap_jobs", "--schedules", stdout=out)

    assert "requeued 1" in out.getvalue()
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
    assert Schedule.objects.filter(name="jobs.reap_jobs", cluster="interactive").exists()


@pytest.mark.django_db
def test_the_hardware_sweeper_revives_the_polling_of_a_job_whose_poll_task_was_lost(cast: Any) -> None:
    remote = {"status": JobStatus.RUNNING, "tier": 3, "backend": "ibm:fake_manila"}
    lost = queued_job(cast, remote_id="ibmemu-1", not_before=timezone.now() - timedelta(minutes=5), **remote)
    queued_job(cast, remote_id="ibmemu-2", not_before=timezone.now() + timedelta(seconds=25), **remote)  # polled

    # As the minute schedule would see it a little later: the revived poll is still due at once.
    assert tasks.poll_hardware_jobs(now=timezone.now() + timedelta(seconds=30)) == 1

    row = OrmQ.objects.get()
    assert row.task["func"] == "jobs.tasks.poll_hardware_job" and row.task["args"] == (str(lost.pk),)
    assert row.key == "hardware" and row.lock <= timezone.now()  # due at once


# --- hardware polling limits ------------------------------------------------------------------------
LONG_VENDOR_QUEUE_SECONDS = 24 * 3600.0


class FlakyVendorIbm(IbmAdapter):
    """The emulated IBM device, whose status endpoint answers 503 while `down` is set."""

    down = False

    def poll(self, remote_id: str) -> Any:
        if self.down:
            raise TransientBackendError("status unavailable", vendor_message="503: service temporarily unavailable")
        return super().poll(remote_id)


@pytest.fixture
def ibm(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> FlakyVendorIbm:
    """`ibm:fake_manila` with a vendor queue of about a day (and its own state dir) for this test."""
    config = BackendConfig.from_mapping(
        {"state_dir": str(tmp_path / "adapters"), "emulated_queue_seconds": LONG_VENDOR_QUEUE_SECONDS}
    )
    adapter = FlakyVendorIbm("fake_manila", config)
    monkeypatch.setitem(registry._adapters, adapter.backend_id, adapter)
    return adapter


def submitted_hardware_job(cast: Any, ibm: IbmAdapter) -> Job:
    # A job id whose seeded vendor queue wait is hours: it stays queued for the whole test.
    job_id = next(i for i in iter(uuid.uuid4, None) if queue_delay_seconds(str(i), LONG_VENDOR_QUEUE_SECONDS) > 3600)
    job = held_job(cast, id=job_id, family="ghz", params={"n_qubits": 3}, tier=3, backend=ibm.backend_id)
    assert tasks.submit_hardware_job(str(job.pk)) == "submitted"
    job.refresh_from_db()
    assert job.remote_id
    return job


def poll_when_due(job: Job) -> str:
    """What the poll task returns when the broker hands it over: at the job's next poll time."""
    job.refresh_from_db()
    if job.not_before is not None:
        time.sleep(max(0.0, (job.not_before - timezone.now()).total_seconds()) + 0.01)
    return tasks.poll_hardware_job(str(job.pk))


def assert_failed_with_hold_released(job: Job, code: str, reason_part: str) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == code
    assert reason_part in job.error_message
    hold = Hold.objects.select_related("budget").get(job=job)
    assert hold.status == HoldStatus.RELEASED and hold.budget.reserved_micros == 0
    event = JobEvent.objects.get(job=job, to_status=JobStatus.FAILED)
    assert event.from_status == JobStatus.RUNNING and reason_part in event.reason


@pytest.mark.django_db
def test_a_hardware_job_fails_after_too_many_poll_errors_in_a_row_and_is_cancelled_at_the_vendor(
    cast: Any, ibm: FlakyVendorIbm, settings: Any
) -> None:
    settings.HARDWARE_POLL_MAX_ERRORS = 3
    settings.HARDWARE_POLL_SECONDS = 0.0
    settings.JOB_RETRY_BACKOFF_SECONDS = 0.02
    job = submitted_hardware_job(cast, ibm)

    ibm.down = True
    assert [poll_when_due(job) for _ in range(2)] == ["poll failed; retrying"] * 2
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.result_meta["poll_errors"] == 2
    assert job.not_before > job.updated_at  # the next poll waits out a backoff
    assert OrmQ.objects.filter(key="hardware").order_by("-lock").first().lock == job.not_before

    ibm.down = False  # one good poll starts the count again
    assert poll_when_due(job) == "queued"
    job.refresh_from_db()
    assert "poll_errors" not in job.result_meta and job.result_meta["vendor"]["state"] == "queued"

    ibm.down = True
    assert [poll_when_due(job) for _ in range(3)] == ["poll failed; retrying"] * 2 + ["failed"]

    assert_failed_with_hold_released(
        job, "poll_error_limit", "3 transient errors in a row (HARDWARE_POLL_MAX_ERRORS = 3)"
    )
    assert "503: service temporarily unavailable" in job.error_message
    assert poll_when_due(job).startswith("skipped")  # the poll chain has ended
    ibm.down = False
    assert ibm.poll(job.remote_id).state is RemoteState.CANCELLED  # nobody would collect it: not run, not billed


@pytest.mark.django_db
def test_a_hardware_job_stuck_at_the_vendor_past_the_wait_limit_is_cancelled_there_and_fails(
    cast: Any, ibm: FlakyVendorIbm, settings: Any
) -> None:
    settings.HARDWARE_MAX_WAIT_SECONDS = 1.0
    settings.HARDWARE_POLL_SECONDS = 0.0
    job = submitted_hardware_job(cast, ibm)

    assert poll_when_due(job) == "queued"  # inside the limit: polled again
    time.sleep(1.0)
    polls_waiting = OrmQ.objects.count()
    assert poll_when_due(job) == "failed"

    assert_failed_with_hold_released(job, "hardware_wait_limit", "past HARDWARE_MAX_WAIT_SECONDS = 1 s")
    assert job.error_message.startswith("still queued at ibm:fake_manila")
    assert OrmQ.objects.count() == polls_waiting  # no further poll
    assert ibm.poll(job.remote_id).state is RemoteState.CANCELLED
