"""`hybridportal.bulk.insert_all`: several tables written together (one statement on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from budgets.models import AuditEvent, Hold, LedgerEntry, LedgerKind
from hybridportal import bulk
from jobs.models import Job, JobEvent, JobStatus, Stage
from tests.workers.conftest import queued_job


def _unsaved_job(cast: Any) -> Job:
    """A job as the submit service builds it: a UUID of its own, not yet saved."""
    job = queued_job(cast)
    values = {f.attname: getattr(job, f.attname) for f in Job._meta.concrete_fields if not f.primary_key}
    return Job(**values)


def test_rows_that_refer_to_each_other_go_in_together(cast: Any, django_assert_max_num_queries: Any) -> None:
    job = _unsaved_job(cast)
    event = JobEvent(job=job, stage=Stage.LIFECYCLE, from_status="submitted", to_status=JobStatus.QUEUED)
    hold = Hold(budget=cast.qlab_budget, job=job, amount_micros=5, expires_at=job.created_at)
    for h, pk in zip([hold], bulk.reserve_ids(Hold, 1) or (), strict=False):
        h.pk = pk
    entry = LedgerEntry(budget=cast.qlab_budget, kind=LedgerKind.RESERVE, amount_micros=5, hold=hold, memo="m")
    audit = AuditEvent(action="job.submit", team=cast.qlab, target=f"job:{job.pk}", detail={"n": 1})

    statements = 1 if connection.vendor == "postgresql" else 5
    with django_assert_max_num_queries(statements):
        bulk.insert_all([job], [event], [hold], [entry], [], [audit])

    saved = Job.objects.get(pk=job.pk)
    assert saved.circuit == job.circuit and saved.params == job.params and saved.created_at is not None
    assert JobEvent.objects.get(job=saved).to_status == JobStatus.QUEUED
    assert LedgerEntry.objects.get(hold__job=saved).amount_micros == 5
    assert AuditEvent.objects.get(target=f"job:{job.pk}").detail == {"n": 1}
    assert all(not obj._state.adding for obj in (job, event, hold, entry, audit))
    assert hold.pk == Hold.objects.get(job=saved).pk


def test_a_refused_row_leaves_none_of_the_others(cast: Any) -> None:
    existing = queued_job(cast)
    job = _unsaved_job(cast)
    event = JobEvent(job=job, stage=Stage.LIFECYCLE, to_status=JobStatus.QUEUED)
    duplicate = Hold(budget=cast.qlab_budget, job=existing, amount_micros=0, expires_at=existing.created_at)
    Hold.objects.create(budget=cast.qlab_budget, job=existing, amount_micros=0, expires_at=existing.created_at)

    with pytest.raises(IntegrityError), transaction.atomic():  # one hold per job
        bulk.insert_all([job], [event], [duplicate])

    assert not Job.objects.filter(pk=job.pk).exists()
    assert not JobEvent.objects.filter(job_id=job.pk).exists()


def test_instances_with_and_without_keys_are_not_mixed(cast: Any) -> None:
    keyed = Hold(pk=10**6, budget=cast.qlab_budget, job=queued_job(cast), amount_micros=0)
    unkeyed = Hold(budget=cast.qlab_budget, job=queued_job(cast), amount_micros=0)
    if connection.vendor != "postgresql":
        pytest.skip("elsewhere bulk_create decides")
    with pytest.raises(ValueError, match="some instances have keys"):
        bulk.insert_all([keyed, unkeyed])


def test_a_write_after_one_that_changed_nothing_is_skipped(cast: Any) -> None:
    job = queued_job(cast)
    statement = bulk.Statement()
    nothing = statement.insert([])
    moved = statement.update_where(Job, {"pk": job.pk, "status": JobStatus.RUNNING}, {"status": JobStatus.SUCCEEDED})
    after_nothing = statement.insert([JobEvent(job=job, stage=Stage.PARSE)], after=nothing)
    after_moved = statement.insert([JobEvent(job=job, stage=Stage.EXECUTE)], after=moved)
    kept = statement.update_where(Job, {"pk": job.pk}, {"shots": 7})

    assert statement.run() == {nothing: 0, moved: 0, after_nothing: 0, after_moved: 0, kept: 1}
    assert not JobEvent.objects.filter(job=job).exists() and Job.objects.get(pk=job.pk).shots == 7


def test_a_long_statement_is_parsed_once_per_shape(cast: Any) -> None:
    """psycopg reuses its parse of a statement only up to a size; a Statement's SQL (a submission's has
    over a hundred parameters) repeats once per job, so bulk raises that size. Without it each job's
    statement would be parsed again: 0.3 ms of CPU in the client and again in the worker."""
    if connection.vendor != "postgresql":
        pytest.skip("psycopg parses PostgreSQL's statements")
    from psycopg import _queries

    job = queued_job(cast)

    def events() -> list[JobEvent]:
        return [JobEvent(job=job, stage=Stage.LIFECYCLE, reason=f"step {i}") for i in range(8)]  # 96 parameters

    bulk.insert_all(events())
    hits = _queries._query2pg.cache_info().hits
    bulk.insert_all(events())
    assert _queries._query2pg.cache_info().hits == hits + 1
    assert JobEvent.objects.filter(job=job, reason__startswith="step").count() == 16


def test_an_update_by_equal_fields_writes_what_the_orm_would(cast: Any) -> None:
    """`update_where` builds its SQL once per shape: each call still gets its own values, prepared as the
    ORM prepares them (JSON, datetimes), a None condition matching NULL, and `after` respected."""
    from django.utils import timezone

    first, second = queued_job(cast), queued_job(cast, not_before=timezone.now())
    finished = timezone.now()
    for job, counts in ((first, {"00": 3}), (second, {"11": 5})):
        statement = bulk.Statement()
        moved = statement.update_where(
            Job,
            {"pk": job.pk, "status": JobStatus.QUEUED, "attempts": 0, "not_before": None},
            {"status": JobStatus.SUCCEEDED, "counts": counts, "finished_at": finished},
        )
        statement.insert([JobEvent(job=job, stage=Stage.EXECUTE)], after=moved)
        statement.run()

    done = Job.objects.get(pk=first.pk)
    assert (done.status, done.counts, done.finished_at) == (JobStatus.SUCCEEDED, {"00": 3}, finished)
    assert JobEvent.objects.filter(job=first, stage=Stage.EXECUTE).count() == 1
    # not_before is set on the second: the condition "not_before IS NULL" leaves it, and its event.
    left = Job.objects.get(pk=second.pk)
    assert (left.status, left.counts) == (JobStatus.QUEUED, None)
    assert not JobEvent.objects.filter(job=second, stage=Stage.EXECUTE).exists()


def test_an_update_with_a_lookup_or_an_expression_goes_through_the_orm(cast: Any) -> None:
    from django.db.models import F

    job = queued_job(cast, shots=10)
    statement = bulk.Statement()
    grown = statement.update_where(Job, {"pk": job.pk, "shots__gte": 5}, {"shots": F("shots") + 1})
    left = statement.update_where(Job, {"pk": job.pk, "shots__gte": 50}, {"shots": 0})
    assert statement.run() == {grown: 1, left: 0}
    assert Job.objects.get(pk=job.pk).shots == 11
