"""A worker checks the budget's tier cap again when it picks a queued job up: an admin may lower it
between the approval (or the queueing) and the run."""

from __future__ import annotations

from typing import Any

import pytest

from budgets.models import Budget, Hold, HoldStatus
from budgets.services import budget_set
from jobs import tasks
from jobs.models import JobEvent, JobStatus, Stage
from jobs.services import approval_decide, job_submit
from tests.jobs.orch_support import ghz, price

pytestmark = pytest.mark.django_db


def _lower_cap(cast: Any, max_tier: int) -> None:
    budget_set(team=cast.qlab, experiment_class=cast.klass, limit_micros=None, max_tier=max_tier)


def _reserved(cast: Any) -> int:
    return Budget.objects.get(pk=cast.qlab_budget.pk).reserved_micros


def test_a_queued_noisy_job_fails_with_the_reason_when_the_cap_was_lowered_before_it_ran(cast: Any) -> None:
    price("qsim-noisy", "0.50")
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim-noisy", max_tier=2)).job
    assert (job.status, job.tier, _reserved(cast)) == (JobStatus.QUEUED, 2, 500_000)

    _lower_cap(cast, 1)
    assert tasks.run_job(str(job.pk)) == "failed (tier not allowed)"

    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "tier_not_allowed")
    assert "tier 2 (noisy simulator) is above tier 1 (scaled simulator)" in job.error_message
    assert "qlab / algorithm_validation budget" in job.error_message
    assert not JobEvent.objects.filter(job=job, stage=Stage.EXECUTE).exists()  # it never ran
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED and _reserved(cast) == 0


def test_an_approved_hardware_job_is_not_sent_to_the_vendor_once_hardware_is_off(cast: Any) -> None:
    request = ghz(cast.qlab_experiment, 3, backend="ibm:fake_athens", max_tier=3)
    job = job_submit(user=cast.alice, request=request).job
    approval_decide(user=cast.bob, job_id=job.pk, decision="approve")
    assert _reserved(cast) > 0

    _lower_cap(cast, 2)
    assert tasks.submit_hardware_job(str(job.pk)) == "failed (tier not allowed)"

    job.refresh_from_db()
    assert (job.status, job.error_code, job.remote_id) == (JobStatus.FAILED, "tier_not_allowed", "")
    assert "tier 3 (hardware)" in job.error_message
    assert Hold.objects.get(job=job).status == HoldStatus.RELEASED and _reserved(cast) == 0


def test_a_job_within_the_lowered_cap_still_runs(cast: Any) -> None:
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim", max_tier=2)).job
    _lower_cap(cast, 0)
    assert tasks.run_job(str(job.pk)) == "succeeded"
