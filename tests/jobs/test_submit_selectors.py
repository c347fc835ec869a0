"""Reads behind the job list, job page, dashboard and API: scoped to the user's teams."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from budgets.errors import NotFound
from jobs import tasks
from jobs.models import JobStatus, Stage
from jobs.selectors import (
    backend_stats,
    experiment_get_for_user,
    experiments_for_user,
    job_events,
    job_get_for_user,
    job_timeline,
    jobs_for_user,
    queue_depths,
    user_team_ids,
)
from jobs.services import job_submit
from tests.jobs.orch_support import ghz


def _submit(user, experiment, n=3, **overrides):
    return job_submit(user=user, request=ghz(experiment, n, no_cache=True, **overrides)).job


def test_users_see_only_their_teams_jobs(cast):
    mine = _submit(cast.alice, cast.qlab_experiment)
    theirs = _submit(cast.carol, cast.optics_experiment)

    assert list(jobs_for_user(cast.bob)) == [mine]
    assert list(jobs_for_user(cast.carol)) == [theirs]
    assert user_team_ids(cast.alice) == [cast.qlab.pk]


def test_another_teams_job_is_not_found_exactly_like_a_missing_one(cast):
    theirs = _submit(cast.carol, cast.optics_experiment)
    for job_id in (theirs.pk, "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        with pytest.raises(NotFound):
            job_get_for_user(cast.alice, job_id)
    assert job_get_for_user(cast.dave, str(theirs.pk)) == theirs


def test_job_list_filters(cast):
    small = _submit(cast.alice, cast.qlab_experiment, 3, labels=["sweep:a"])
    large = _submit(cast.alice, cast.qlab_experiment, 5, backend="aer", labels=["sweep:b"])

    assert list(jobs_for_user(cast.alice, backend="aer")) == [large]
    assert list(jobs_for_user(cast.alice, label="sweep:a")) == [small]
    assert list(jobs_for_user(cast.alice, label="sweep")) == []  # whole labels only
    assert list(jobs_for_user(cast.alice, status=[JobStatus.QUEUED], family="ghz").order_by("n_qubits")) == [
        small,
        large,
    ]
    assert list(jobs_for_user(cast.alice, q=str(small.pk)[:8])) == [small]
    assert list(jobs_for_user(cast.alice, q="qlab exp")) == [large, small]
    assert list(jobs_for_user(cast.alice, experiment=cast.qlab_experiment.pk, status="running")) == []


def test_experiments_are_scoped_too(cast):
    assert list(experiments_for_user(cast.alice)) == [cast.qlab_experiment]
    with pytest.raises(NotFound):
        experiment_get_for_user(cast.alice, cast.optics_experiment.pk)


def test_timeline_has_the_submit_stages_the_queue_wait_and_the_run(cast):
    job = _submit(cast.alice, cast.qlab_experiment)
    assert [s["stage"] for s in job_timeline(job)][-1] == Stage.QUEUE_WAIT  # still waiting: open span
    assert job_timeline(job)[-1]["end"] is None

    tasks.run_job(str(job.pk))
    spans = job_timeline(job)
    stages = [s["stage"] for s in spans]
    for stage in (Stage.VALIDATE, Stage.ASSEMBLE, Stage.SELECT, Stage.QUEUE_WAIT, Stage.EXECUTE):
        assert stage in stages
    assert all(s["end"] is not None and s["duration_ms"] >= 0 for s in spans)
    assert [e.to_status for e in job_events(job) if e.stage == Stage.LIFECYCLE] == ["queued", "running", "succeeded"]


def test_queue_depths_count_queued_jobs_per_cluster_and_backend(cast):
    _submit(cast.alice, cast.qlab_experiment)
    _submit(cast.alice, cast.qlab_experiment, priority="batch")
    _submit(cast.alice, cast.qlab_experiment, backend="aer")

    depths = queue_depths()
    assert {(r["cluster"], r["priority"], r["queued"]) for r in depths["by_cluster"]} == {
        ("interactive", "interactive", 2),
        ("batch", "batch", 1),
    }
    assert {r["backend"]: r["queued"] for r in depths["by_backend"]} == {"qsim": 2, "aer": 1}


def test_backend_stats_report_failure_rate_and_median_time(cast):
    ok = _submit(cast.alice, cast.qlab_experiment)
    tasks.run_job(str(ok.pk))

    stats = backend_stats("qsim", timezone.now() - timedelta(minutes=5))

    assert (stats["finished"], stats["failed"], stats["failure_rate"]) == (1, 0, 0.0)
    assert stats["median_execute_seconds"] > 0
    assert backend_stats("aer", timezone.now() - timedelta(minutes=5))["failure_rate"] is None


def test_a_member_creates_an_experiment_in_their_team(cast):
    from jobs.services import experiment_create

    experiment = experiment_create(
        user=cast.alice, team="qlab", name="  bell sweep ", experiment_class="algorithm_validation"
    )

    assert (experiment.team, experiment.name, experiment.experiment_class) == (cast.qlab, "bell sweep", cast.klass)
    assert experiment.created_by == cast.alice
    assert experiment in experiments_for_user(cast.bob) and experiment not in experiments_for_user(cast.carol)


def test_experiment_in_another_team_or_with_a_taken_name_is_refused(cast):
    from budgets.errors import Conflict, Invalid
    from jobs.services import experiment_create

    with pytest.raises(NotFound) as err:
        experiment_create(user=cast.alice, team="optics", name="sneaky")
    assert err.value.field == "team"
    with pytest.raises(Conflict) as err:
        experiment_create(user=cast.alice, team="qlab", name="qlab experiment")
    assert err.value.field == "name"
    with pytest.raises(Invalid) as err:
        experiment_create(user=cast.alice, team="qlab", name="new", experiment_class="astrology")
    assert err.value.field == "experiment_class"
