"""Submitting, reading and steering jobs through /api/v1, as a notebook user would."""

from __future__ import annotations

import uuid

import pytest

from jobs.models import Job
from tests.api.conftest import ghz_body
from tests.factories import make_job


def submit(api, experiment, n: int = 3, key: str | None = None, **overrides):  # noqa: ANN001
    return api.post(
        "/jobs", ghz_body(experiment, n, **overrides), headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


def test_submit_answers_201_with_the_job_and_its_estimate(alice, cast):
    reply = submit(alice, cast.qlab_experiment, 3)
    assert reply.status == 201
    job = reply.body
    assert job["status"] == "queued"
    assert job["backend"] and job["tier"] == 0 and job["emulated"] is False
    assert job["estimate"]["cost"] == "0.00" and job["estimate"]["currency"] == "USD"
    assert job["estimate"]["backend"] == job["backend"] and job["estimate"]["reasons"]
    assert len(job["fingerprint"]) == 64 and len(job["trace_id"]) == 32
    assert job["experiment"] == cast.qlab_experiment.pk and job["team"] == "qlab"
    assert Job.objects.filter(pk=job["id"]).exists()


def test_submit_keeps_the_callers_trace_id(alice, cast):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    reply = alice.post(
        "/jobs",
        ghz_body(cast.qlab_experiment),
        headers={"Idempotency-Key": "t-1", "traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    )
    assert reply.body["trace_id"] == trace


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shots": 0}, "shots"),
        ({"shots": "many"}, "shots"),
        ({"max_tier": 7}, "max_tier"),
        ({"priority": "urgent"}, "priority"),
        ({"params": {"n_qubits": 0}}, "params.n_qubits"),
        ({"colour": "blue"}, "colour"),
        ({"family": "no_such_family"}, "family"),
        ({"labels": ["has space"]}, "labels"),
    ],
)
def test_a_bad_job_request_is_422_naming_the_field(alice, cast, change, field):
    reply = submit(alice, cast.qlab_experiment, **change)
    assert reply.status == 422, reply.body
    assert reply.body["field"] == field
    assert reply.body["message"]
    assert not Job.objects.exists()


def test_a_missing_field_is_named(alice):
    reply = alice.post("/jobs", {"family": "ghz"}, headers={"Idempotency-Key": "m-1"})
    assert reply.status == 422
    assert reply.body["field"] == "experiment" and reply.body["message"] == "experiment is required."


def test_another_teams_experiment_is_not_found(alice, cast):
    reply = submit(alice, cast.optics_experiment)
    assert reply.status == 404 and reply.body["field"] == "experiment"


def test_quote_tells_backend_cost_and_approval_and_creates_nothing(alice, cast):
    reply = alice.post("/jobs/quote", ghz_body(cast.qlab_experiment))
    assert reply.status == 200
    quote = reply.body
    assert quote["backend"] and quote["tier"] == 0 and quote["reasons"]
    assert quote["cost"] == "0.00" and quote["currency"] == "USD" and quote["needs_approval"] is False
    assert quote["n_qubits"] == 3 and len(quote["fingerprint"]) == 64
    assert quote["seconds_source"] == "from the backend's formula"  # no runs yet to learn from
    assert not Job.objects.exists()


def test_quote_of_a_bad_request_names_the_field(alice, cast):
    reply = alice.post("/jobs/quote", ghz_body(cast.qlab_experiment, shots=-1))
    assert reply.status == 422 and reply.body["field"] == "shots"


def test_get_job_shows_its_state(alice, cast):
    created = submit(alice, cast.qlab_experiment).body
    reply = alice.get(f"/jobs/{created['id']}")
    assert reply.status == 200
    for key in ("id", "status", "backend", "tier", "estimate", "fingerprint", "trace_id", "created_at", "queued_at"):
        assert reply.body[key] == created[key]


def test_unknown_job_is_404(alice):
    assert alice.get(f"/jobs/{uuid.uuid4()}").status == 404
    assert alice.get("/jobs/not-a-uuid").code == "not_found"


def test_job_list_is_paginated_and_filtered(alice, cast):
    for n in range(3):
        make_job(cast.qlab_experiment, cast.alice, status="queued", labels=["sweep"], params={"n_qubits": n + 2})
    make_job(cast.qlab_experiment, cast.alice, status="failed", family="qft")
    make_job(cast.optics_experiment, cast.carol, status="queued")  # another team's: never listed

    page = alice.get("/jobs", page_size=2).body
    assert (page["count"], page["page"], page["pages"], len(page["items"])) == (4, 1, 2, 2)
    assert len(alice.get("/jobs", page_size=2, page=2).body["items"]) == 2
    assert alice.get("/jobs", page=9).body["items"] == []

    assert {j["status"] for j in alice.get("/jobs", status="queued").body["items"]} == {"queued"}
    assert alice.get("/jobs", family="qft").body["count"] == 1
    assert alice.get("/jobs", label="sweep").body["count"] == 3
    assert alice.get("/jobs", experiment=cast.qlab_experiment.pk).body["count"] == 4


@pytest.mark.parametrize(
    ("query", "field"), [({"page_size": 201}, "page_size"), ({"page": 0}, "page"), ({"status": "lost"}, "status")]
)
def test_bad_list_parameters_are_422_naming_them(alice, query, field):
    reply = alice.get("/jobs", **query)
    assert reply.status == 422 and reply.body["field"] == field


def test_result_of_a_succeeded_job_has_counts_qubit_zero_leftmost(alice, cast):
    job = make_job(
        cast.qlab_experiment,
        cast.alice,
        status="succeeded",
        counts={"000": 60, "111": 40},
        shots=100,
        emulated=False,
        cost_micros=350_000,
        sdk_versions={"qsimcirq": "0.22.1"},
        metrics={"hellinger_fidelity": 0.99},
    )
    reply = alice.get(f"/jobs/{job.pk}/result")
    assert reply.status == 200
    result = reply.body
    assert result["counts"] == {"000": 60, "111": 40} and result["shots"] == 100
    assert result["backend"] == "qsim" and result["emulated"] is False
    assert result["cost"] == "0.35" and result["currency"] == "USD"
    assert result["versions"] == {"qsimcirq": "0.22.1"} and result["metrics"] == {"hellinger_fidelity": 0.99}


@pytest.mark.parametrize("status", ["queued", "running", "failed"])
def test_result_before_success_is_409_not_ready(alice, cast, status):
    job = make_job(cast.qlab_experiment, cast.alice, status=status)
    reply = alice.get(f"/jobs/{job.pk}/result")
    assert reply.status == 409 and reply.code == "not_ready" and reply.body["detail"]["status"] == status


def test_events_show_the_timeline(alice, cast):
    created = submit(alice, cast.qlab_experiment).body
    events = alice.get(f"/jobs/{created['id']}/events").body
    transitions = [(e["from_status"], e["to_status"]) for e in events if e["stage"] == "lifecycle"]
    assert ("submitted", "queued") in transitions
    assert {"validate", "assemble", "select"} <= {e["stage"] for e in events}


def test_pause_resume_and_cancel_a_queued_job(alice, cast):
    job_id = submit(alice, cast.qlab_experiment).body["id"]
    assert alice.post(f"/jobs/{job_id}/pause", {"reason": "lunch"}).body["status"] == "paused"
    assert alice.post(f"/jobs/{job_id}/resume").body["status"] == "queued"
    assert alice.post(f"/jobs/{job_id}/cancel", None).body["status"] == "cancelled"
    reasons = [e["reason"] for e in alice.get(f"/jobs/{job_id}/events").body]
    assert "lunch" in reasons


def test_an_illegal_transition_is_409(alice, cast):
    job = make_job(cast.qlab_experiment, cast.alice, status="succeeded")
    reply = alice.post(f"/jobs/{job.pk}/pause")
    assert reply.status == 409 and reply.code == "illegal_transition"


def test_reroute_moves_a_queued_job_to_another_backend(alice, cast):
    job = submit(alice, cast.qlab_experiment).body
    other = next(b["id"] for b in alice.get("/backends").body if b["tier"] == 0 and b["id"] != job["backend"])
    reply = alice.post(f"/jobs/{job['id']}/reroute", {"backend": other, "reason": "try cirq"})
    assert reply.status == 200, reply.body
    assert reply.body["backend"] == other and reply.body["status"] == "queued"


def test_reroute_needs_a_backend(alice, cast):
    job = submit(alice, cast.qlab_experiment).body
    reply = alice.post(f"/jobs/{job['id']}/reroute", {})
    assert reply.status == 422 and reply.body["field"] == "backend"


@pytest.mark.parametrize("action", ["pause", "resume", "cancel"])
@pytest.mark.parametrize(("body", "field"), [({"reason": "x" * 501}, "reason"), ({"why": "typo"}, "why")])
def test_lifecycle_bodies_are_validated(alice, cast, action, body, field):
    job = make_job(cast.qlab_experiment, cast.alice, status="queued")
    reply = alice.post(f"/jobs/{job.pk}/{action}", body)
    assert reply.status == 422 and reply.body["field"] == field
    assert Job.objects.get(pk=job.pk).status == "queued"
