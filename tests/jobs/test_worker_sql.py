"""The worker's one-statement claim on PostgreSQL (`jobs.worker_sql`) against the ORM claim it replaces.

Both paths must leave the same record: the same job fields, the same events, the same job object for
the worker (its hold and price read along). Where the fast claim does not apply it must change nothing,
so `run_job`'s ORM path can say why.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from adapters.ir import Circuit
from budgets.models import HoldStatus
from budgets.services import hold_open
from jobs import tasks, worker_sql
from jobs.heartbeat import worker_label
from jobs.models import Job, JobEvent, JobStatus, Stage
from jobs.policy import PRICE_FIELDS
from tests.jobs.orch_support import price
from tests.workers.conftest import queued_job

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement claim is PostgreSQL's")

_COMPARED = ("status", "attempts", "started_at", "deadline", "not_before", "seed", "updated_at")


def _fast(job: Job, now: Any) -> Job | None:
    return worker_sql.claim_queued(
        job.pk,
        now=now,
        deadline=now + timedelta(minutes=10),
        seed=99,
        worker=worker_label(),
        hardware_tier=tasks.HARDWARE_TIER,
        actor_label="worker",
        reason="claimed by test/1",
    )


def _orm(job_id: Any, now: Any) -> Job:
    job = tasks._job_for_run(job_id)
    assert tasks._claim(job, now=now, deadline=now + timedelta(minutes=10)) == 1
    return job


def _events(job: Job) -> list[tuple[Any, ...]]:
    """The job's events; a lifecycle event's time is when its statement ran, so it is left out."""
    return [
        (e.stage, e.from_status, e.to_status, e.actor_id, e.actor_label, e.reason.split(" by ")[0], e.data)
        + ((e.started_at, e.ended_at, e.duration_ms) if e.stage != Stage.LIFECYCLE else ())
        for e in JobEvent.objects.filter(job=job).order_by("id")
    ]


def _with_hold(cast: Any, **fields: Any) -> Job:
    job = queued_job(cast, queued_at=timezone.now() - timedelta(seconds=3), **fields)
    hold_open(job=job, budget=cast.qlab_budget, amount_micros=0)
    return job


def test_the_fast_claim_writes_what_the_orm_claim_writes(cast: Any) -> None:
    fast_job, orm_job = _with_hold(cast), _with_hold(cast)
    now = timezone.now()
    Job.objects.filter(pk__in=[fast_job.pk, orm_job.pk]).update(
        created_at=now - timedelta(seconds=4), queued_at=now - timedelta(seconds=3)
    )

    claimed = _fast(fast_job, now)
    _orm(orm_job.pk, now)

    assert claimed is not None
    fast_row, orm_row = Job.objects.get(pk=fast_job.pk), Job.objects.get(pk=orm_job.pk)
    assert fast_row.status == JobStatus.RUNNING and fast_row.attempts == 1
    for name in ("status", "attempts", "started_at", "deadline", "not_before", "seed", "worker", "heartbeat_at"):
        assert getattr(fast_row, name) == getattr(orm_row, name), name
    # Queue wait (3 s, from queued_at), then queued → running: the same two events either way.
    assert _events(fast_row) == _events(orm_row)
    assert [e[0] for e in _events(fast_row)] == [Stage.QUEUE_WAIT, Stage.LIFECYCLE]
    assert _events(fast_row)[0][-1] == pytest.approx(3000.0)


def test_a_retry_waits_from_the_end_of_its_backoff(cast: Any) -> None:
    job = queued_job(cast, seed=None)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        created_at=now - timedelta(seconds=10),
        queued_at=now - timedelta(seconds=9),
        not_before=now - timedelta(seconds=2),
    )

    claimed = _fast(job, now)

    assert claimed is not None and claimed.not_before is None and claimed.seed == 99  # a seed drawn now
    wait = JobEvent.objects.get(job=job, stage=Stage.QUEUE_WAIT)
    assert wait.started_at == now - timedelta(seconds=2) and wait.duration_ms == pytest.approx(2000.0)


def test_the_claimed_job_is_the_object_the_orm_read_gives(cast: Any) -> None:
    now = timezone.now()
    price("qsim", "0.25")
    fast_job = _with_hold(cast)

    claimed = _fast(fast_job, now)
    read = tasks._job_for_run(fast_job.pk)  # the same row, read back through the ORM

    assert claimed is not None
    for field in Job._meta.concrete_fields:
        assert getattr(claimed, field.attname) == getattr(read, field.attname), field.name
    assert isinstance(claimed.circuit, dict) and claimed.circuit["ops"]  # JSON decoded as the ORM does
    assert claimed.hold.pk == fast_job.hold.pk and claimed.hold.status == HoldStatus.PENDING
    assert claimed.hold.job is claimed
    assert {k: claimed.price_override[k] for k in PRICE_FIELDS} == {
        k: type(claimed.price_override[k])(read.price_override[k]) for k in PRICE_FIELDS
    }
    assert tasks._cost_micros(tasks._adapter("qsim"), claimed, _run(claimed)) == 250_000


def _run(job: Job) -> Any:
    return tasks._adapter(job.backend).run(tasks._request(job))


def test_without_a_price_override_or_hold_the_claim_says_so(cast: Any) -> None:
    job = queued_job(cast)

    claimed = _fast(job, timezone.now())

    assert claimed is not None and claimed.price_override is None
    with pytest.raises(Job.hold.RelatedObjectDoesNotExist):
        claimed.hold  # noqa: B018 - cached as absent, as select_related leaves it: no second query


@pytest.mark.parametrize(
    "fields",
    [
        {"status": JobStatus.RUNNING},
        {"status": JobStatus.PAUSED},
        {"status": JobStatus.CANCELLED},
        {"not_before": "future"},
        {"tier": 3, "backend": "ibm-emulated:fake_torino"},
    ],
    ids=["running", "paused", "cancelled", "backoff-not-over", "hardware"],
)
def test_a_job_that_is_not_plainly_runnable_is_left_alone(cast: Any, fields: dict[str, Any]) -> None:
    now = timezone.now()
    if fields.get("not_before") == "future":
        fields = {"not_before": now + timedelta(seconds=30)}
    job = queued_job(cast, **fields)
    before = Job.objects.get(pk=job.pk)

    assert _fast(job, now) is None

    after = Job.objects.get(pk=job.pk)
    assert [getattr(after, n) for n in _COMPARED] == [getattr(before, n) for n in _COMPARED]
    assert not JobEvent.objects.filter(job=job).exists()


def test_a_second_delivery_claims_nothing(cast: Any) -> None:
    job = queued_job(cast)
    now = timezone.now()

    assert _fast(job, now) is not None
    assert _fast(job, now) is None

    assert Job.objects.get(pk=job.pk).attempts == 1
    assert JobEvent.objects.filter(job=job, stage=Stage.LIFECYCLE, to_status=JobStatus.RUNNING).count() == 1


def test_run_job_finishes_a_fast_claimed_job_and_explains_the_others(cast: Any) -> None:
    runnable = _with_hold(cast)
    later = queued_job(cast, not_before=timezone.now() + timedelta(minutes=5))

    assert tasks.run_job(str(runnable.pk)) == "succeeded"
    assert tasks.run_job(str(runnable.pk)) == "skipped (succeeded)"
    assert tasks.run_job(str(later.pk)) == "deferred"

    done = Job.objects.get(pk=runnable.pk)
    assert sum(done.counts.values()) == done.shots
    assert done.hold.status == HoldStatus.SETTLED


def test_jobs_sharing_a_circuit_share_the_built_circuit(cast: Any) -> None:
    first, second, other = queued_job(cast), queued_job(cast), queued_job(cast, params={"n_qubits": 4})
    now = timezone.now()

    circuits = [tasks._circuit_of(_fast(job, now)) for job in (first, second, other)]

    assert circuits[0] == Circuit.from_json(Job.objects.get(pk=first.pk).circuit)
    assert circuits[1] is circuits[0]  # looked up by the stored text, not rebuilt
    assert circuits[2].n_qubits == 4 and circuits[2] != circuits[0]
