"""An identical resubmission is served from the cache: free, instant, never enqueued."""

from __future__ import annotations

from budgets.models import Hold
from jobs import tasks
from jobs.models import Job, JobEvent, JobStatus
from jobs.services import job_quote, job_submit
from tests import factories
from tests.jobs.orch_support import enqueued_job_ids, ghz
from tests.jobs.test_policy import record


def _succeeded(cast, **overrides) -> Job:
    """A job that really ran on the simulator (the worker's task, called in-process)."""
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, **overrides)).job
    tasks.run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


def test_identical_resubmission_is_served_from_cache(cast, django_capture_on_commit_callbacks):
    original = _succeeded(cast)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        copy = job_submit(user=cast.bob, request=ghz(cast.qlab_experiment, 3)).job

    assert copy.pk != original.pk
    assert copy.status == JobStatus.SUCCEEDED
    assert copy.cached_from_id == original.pk
    assert copy.counts == original.counts and sum(copy.counts.values()) == 200
    assert copy.cost_micros == 0 and copy.estimate["cost_micros"] == 0
    assert callbacks == [] and str(copy.pk) not in enqueued_job_ids()
    assert not Hold.objects.filter(job=copy).exists()
    event = JobEvent.objects.get(job=copy, to_status=JobStatus.SUCCEEDED)
    assert event.reason == f"served from cache of {original.pk}" and event.actor == cast.bob


def test_cache_of_a_cached_job_points_at_the_job_that_ran(cast):
    original = _succeeded(cast)
    first_copy = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3)).job
    second_copy = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3)).job
    assert first_copy.cached_from_id == second_copy.cached_from_id == original.pk


def test_no_cache_forces_execution(cast, django_capture_on_commit_callbacks):
    _succeeded(cast)
    before = enqueued_job_ids()

    with django_capture_on_commit_callbacks(execute=True):
        job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, no_cache=True)).job

    assert job.status == JobStatus.QUEUED and job.cached_from is None
    assert enqueued_job_ids() == [*before, str(job.pk)]


def test_different_shots_are_not_a_cache_hit(cast):
    _succeeded(cast)
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, shots=201)).job
    assert job.status == JobStatus.QUEUED and job.cached_from is None


def test_cache_is_per_team(cast):
    _succeeded(cast)
    job = job_submit(user=cast.carol, request=ghz(cast.optics_experiment, 3)).job
    assert job.status == JobStatus.QUEUED and job.cached_from is None


def test_cache_serves_across_experiments_of_the_same_team(cast):
    original = _succeeded(cast)
    other = factories.make_experiment(cast.qlab, cast.klass, "second experiment")
    job = job_submit(user=cast.alice, request=ghz(other, 3)).job
    assert job.cached_from_id == original.pk and job.experiment == other


def test_quote_tells_a_cache_hit_is_free(cast):
    original = _succeeded(cast)
    quote = job_quote(user=cast.alice, request=ghz(cast.qlab_experiment, 3))
    assert quote.cached_from == original.pk and quote.cost_micros == 0 and not quote.needs_approval
    assert quote.reasons[0].startswith(f"served from cache of {original.pk}")


def test_a_pinned_resubmission_is_served_from_cache_without_an_estimate_even_while_its_backend_fails(cast):
    """With a pin the fingerprint is known before the policy runs: a hit needs no price or run
    records, and a broken backend does not matter — nothing runs on it."""
    original = _succeeded(cast, backend="qsim")
    for _ in range(4):  # qsim's circuit breaker opens: its last jobs failed with backend errors
        record(cast, "qsim", JobStatus.FAILED, error_code="backend_error")

    copy = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim")).job

    assert copy.status == JobStatus.SUCCEEDED and copy.cached_from_id == original.pk
    assert copy.estimate["seconds"] == 0 and copy.estimate["seconds_source"] == "result cache"
    assert copy.policy_reasons[0] == f"served from cache of {original.pk} (identical circuit, shots and backend)"
    rerun = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, backend="qsim", no_cache=True)).job
    assert rerun.status == JobStatus.QUEUED and "failing" in " ".join(rerun.policy_reasons)
