"""POST /jobs and its Idempotency-Key, over HTTP: a retried request never makes a second job."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from jobs.models import Job
from tests.api.conftest import Api, ghz_body


def test_a_replay_returns_the_same_body_marked_as_replayed(alice, cast):
    body = ghz_body(cast.qlab_experiment)
    first = alice.post("/jobs", body, headers={"Idempotency-Key": "retry-me"})
    again = alice.post("/jobs", body, headers={"Idempotency-Key": "retry-me"})
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Job.objects.count() == 1


def test_the_same_key_with_another_body_is_422(alice, cast):
    alice.post("/jobs", ghz_body(cast.qlab_experiment, 3), headers={"Idempotency-Key": "k"})
    reply = alice.post("/jobs", ghz_body(cast.qlab_experiment, 4), headers={"Idempotency-Key": "k"})
    assert reply.status == 422
    assert (reply.code, reply.body["field"]) == ("idempotency_mismatch", "Idempotency-Key")
    assert Job.objects.count() == 1


def test_a_missing_key_is_400_and_creates_nothing(alice, cast):
    reply = alice.post("/jobs", ghz_body(cast.qlab_experiment))
    assert reply.status == 400
    assert (reply.code, reply.body["field"]) == ("idempotency_key_required", "Idempotency-Key")
    assert not Job.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve"])
def test_a_malformed_key_is_400(alice, cast, key):
    reply = alice.post("/jobs", ghz_body(cast.qlab_experiment), headers={"Idempotency-Key": key})
    assert reply.status == 400 and reply.body["field"] == "Idempotency-Key"
    assert not Job.objects.exists()


def test_keys_belong_to_their_user(as_user, cast):
    body = ghz_body(cast.qlab_experiment, no_cache=True)
    mine = as_user(cast.alice).post("/jobs", body, headers={"Idempotency-Key": "shared"})
    theirs = as_user(cast.bob).post("/jobs", body, headers={"Idempotency-Key": "shared"})
    assert mine.body["id"] != theirs.body["id"]
    assert "Idempotent-Replayed" not in theirs.headers


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_parallel_duplicates_make_one_job(cast, token_for):
    token = token_for(cast.alice)
    body = ghz_body(cast.qlab_experiment)
    replies, barrier = [], threading.Barrier(8)

    def post() -> None:
        api = Api(Client(), token)
        barrier.wait()
        try:
            replies.append(api.post("/jobs", body, headers={"Idempotency-Key": "parallel"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Job.objects.count() == 1
    created = [r for r in replies if r.status == 201]
    assert created and {r.body["id"] for r in created} == {str(Job.objects.get().pk)}
    assert sum("Idempotent-Replayed" not in r.headers for r in created) == 1
    assert all(r.status == 409 and r.code == "idempotency_in_flight" for r in replies if r.status != 201)
