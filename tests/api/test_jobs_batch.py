"""POST /api/v1/jobs/batch: a parameter sweep from a notebook in one request, all or nothing."""

from __future__ import annotations

import uuid

import pytest
from django_q.models import OrmQ

from budgets.models import AuditEvent, Hold
from jobs.models import IdempotencyKey, Job
from tests.api.conftest import ghz_body


def submit_batch(api, jobs, key: str | None = None, **headers):  # noqa: ANN001, ANN003
    return api.post("/jobs/batch", {"jobs": jobs}, headers={"Idempotency-Key": key or str(uuid.uuid4()), **headers})


def _written() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Job, Hold, OrmQ, IdempotencyKey, AuditEvent))


def test_a_sweep_answers_201_with_every_job_in_request_order(alice, cast):
    sweep = [ghz_body(cast.qlab_experiment, n) for n in (2, 3, 4, 5)]
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"

    reply = submit_batch(alice, sweep, traceparent=f"00-{trace}-00f067aa0ba902b7-01")

    assert reply.status == 201, reply.body
    jobs = reply.body["jobs"]
    assert [j["params"]["n_qubits"] for j in jobs] == [2, 3, 4, 5]
    assert {j["status"] for j in jobs} == {"queued"} and {j["trace_id"] for j in jobs} == {trace}
    assert all(j["estimate"]["reasons"] and len(j["fingerprint"]) == 64 for j in jobs)
    for job in jobs:  # each as GET /jobs/{id} shows it
        assert alice.get(f"/jobs/{job['id']}").body == job
    assert OrmQ.objects.count() == 4


def test_a_replay_returns_the_same_body_marked_as_replayed(alice, cast):
    sweep = [ghz_body(cast.qlab_experiment, n) for n in (2, 3)]
    first = submit_batch(alice, sweep, key="sweep-1")
    again = submit_batch(alice, sweep, key="sweep-1")
    other = submit_batch(alice, sweep[:1], key="sweep-1")

    assert (first.status, again.status) == (201, 201) and again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert (other.status, other.code) == (422, "idempotency_mismatch")
    assert Job.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shots": 0}, "jobs[1].shots"),  # refused by the body's schema
        ({"priority": "urgent"}, "jobs[1].priority"),
        ({"colour": "blue"}, "jobs[1].colour"),
        ({"params": {"n_qubits": 0}}, "jobs[1].params.n_qubits"),  # refused by the family
        ({"family": "no_such_family"}, "jobs[1].family"),
    ],
)
def test_a_bad_job_is_422_naming_its_index_and_nothing_is_written(alice, cast, change, field):
    before = _written()
    reply = submit_batch(alice, [ghz_body(cast.qlab_experiment), ghz_body(cast.qlab_experiment, 4, **change)])
    assert reply.status == 422, reply.body
    assert reply.body["field"] == field and reply.body["message"]
    assert _written() == before


def test_another_teams_experiment_is_404_naming_the_job(alice, cast):
    reply = submit_batch(alice, [ghz_body(cast.qlab_experiment), ghz_body(cast.optics_experiment)])
    assert (reply.status, reply.code, reply.body["field"]) == (404, "not_found", "jobs[1].experiment")
    assert not Job.objects.exists()


@pytest.mark.parametrize("size", [0, 4])
def test_an_empty_or_oversized_batch_is_422_naming_the_limit(alice, cast, settings, size):
    settings.JOB_BATCH_MAX = 3
    reply = submit_batch(alice, [ghz_body(cast.qlab_experiment, shots=100 + i) for i in range(size)])
    assert (reply.status, reply.body["field"]) == (422, "jobs")
    assert "1 to 3 jobs" in reply.body["message"] and reply.body["detail"]["limit"] == 3
    assert not Job.objects.exists()


def test_a_batch_needs_an_idempotency_key_and_the_submit_scope(as_user, cast):
    reply = as_user(cast.alice).post("/jobs/batch", {"jobs": [ghz_body(cast.qlab_experiment)]})
    assert (reply.status, reply.code) == (400, "idempotency_key_required")
    assert "/jobs/batch" in reply.body["message"]
    read_only = submit_batch(as_user(cast.alice, "read"), [ghz_body(cast.qlab_experiment)])
    assert read_only.status == 403
    assert not Job.objects.exists()
