"""Idempotency-Key on job submission: a client retry never creates a second job."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from budgets.errors import Conflict, Invalid
from jobs.models import IdempotencyKey, Job
from jobs.services import JOBS_ROUTE, idempotency_keys_purge, job_submit
from tests.jobs.orch_support import ghz

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (DATABASE_URL)"
)


def render(job: Job) -> dict:
    return {"id": str(job.pk), "status": job.status, "backend": job.backend}


def test_same_key_and_body_replays_the_first_response(cast):
    body = ghz(cast.qlab_experiment, 3)
    first = job_submit(user=cast.alice, request=body, idempotency_key="abc-1", render=render)
    again = job_submit(user=cast.alice, request=dict(body), idempotency_key="abc-1", render=render)

    assert not first.replayed and again.replayed
    assert again.job.pk == first.job.pk
    assert again.body == first.body == {"id": str(first.job.pk), "status": "queued", "backend": "qsim"}
    assert again.status_code == 201
    assert Job.objects.count() == 1


def test_replay_returns_the_stored_body_even_after_the_job_moved_on(cast):
    body = ghz(cast.qlab_experiment, 3)
    first = job_submit(user=cast.alice, request=body, idempotency_key="abc-2", render=render)
    Job.objects.filter(pk=first.job.pk).update(status="running")
    again = job_submit(user=cast.alice, request=body, idempotency_key="abc-2", render=render)
    assert again.body["status"] == "queued"


def test_same_key_with_a_different_body_is_refused(cast):
    job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3), idempotency_key="abc-3")
    with pytest.raises(Invalid) as err:
        job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 4), idempotency_key="abc-3")
    assert err.value.code == "idempotency_mismatch" and err.value.field == "Idempotency-Key"
    assert Job.objects.count() == 1


def test_keys_are_scoped_per_user(cast):
    body = ghz(cast.qlab_experiment, 3, no_cache=True)
    a = job_submit(user=cast.alice, request=body, idempotency_key="shared")
    b = job_submit(user=cast.bob, request=body, idempotency_key="shared")
    assert a.job.pk != b.job.pk and not b.replayed


def test_key_is_stored_with_the_job_for_at_least_a_day(cast):
    result = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3), idempotency_key="abc-4")
    key = IdempotencyKey.objects.get(key="abc-4")
    assert (key.user, key.method, key.route, key.job) == (cast.alice, "POST", JOBS_ROUTE, result.job)
    assert key.expires_at >= timezone.now() + timedelta(hours=23, minutes=59)


def test_expired_keys_are_purged_and_can_be_used_again(cast):
    first = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3), idempotency_key="abc-5").job
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_keys_purge() == 1
    second = job_submit(
        user=cast.alice, request=ghz(cast.qlab_experiment, 3, no_cache=True), idempotency_key="abc-5"
    ).job
    assert second.pk != first.pk


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "with space"])
def test_malformed_key_is_refused(cast, key):
    with pytest.raises(Invalid) as err:
        job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3), idempotency_key=key)
    assert err.value.field == "Idempotency-Key"
    assert Job.objects.count() == 0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_retries_create_one_job(cast):
    body = ghz(cast.qlab_experiment, 3)
    barrier = threading.Barrier(20)
    results, errors = [], []

    def submit() -> None:
        try:
            barrier.wait()
            results.append(job_submit(user=cast.alice, request=body, idempotency_key="storm", render=render))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Job.objects.count() == 1
    assert sum(not r.replayed for r in results) == 1
    assert {r.job.pk for r in results} == {Job.objects.get().pk}
    assert {r.body["id"] for r in results} == {str(Job.objects.get().pk)}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_same_key_while_the_first_is_in_flight_is_a_conflict(cast, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.5
    claimed, release = threading.Event(), threading.Event()

    def first_request_holding_the_key() -> None:
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    user=cast.alice,
                    method="POST",
                    route=JOBS_ROUTE,
                    key="slow",
                    body_sha256="x" * 64,
                    expires_at=timezone.now() + timedelta(days=1),
                )
                claimed.set()
                release.wait(10)
                transaction.set_rollback(True)
        finally:
            connection.close()

    holder = threading.Thread(target=first_request_holding_the_key)
    holder.start()
    try:
        assert claimed.wait(10)
        with pytest.raises(Conflict) as err:
            job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3), idempotency_key="slow")
        assert err.value.code == "idempotency_in_flight"
    finally:
        release.set()
        holder.join()
    assert Job.objects.count() == 0
