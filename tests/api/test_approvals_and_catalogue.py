"""The approver inbox, backends, budgets and experiments through /api/v1."""

from __future__ import annotations

import uuid

import pytest

from jobs.models import Experiment
from tests.api.conftest import ghz_body
from tests.jobs.orch_support import price


@pytest.fixture
def awaiting(alice, cast):  # noqa: ANN001
    """A job of alice's that costs 20.00, above qlab's 10.00 approval threshold."""
    price("qsim", "20.00")
    body = ghz_body(cast.qlab_experiment, backend="qsim", no_cache=True)
    job = alice.post("/jobs", body, headers={"Idempotency-Key": str(uuid.uuid4())}).body
    assert job["status"] == "awaiting_approval" and job["estimate"]["needs_approval"] is True
    assert job["estimate"]["cost"] == "20.00"
    return job


def test_approver_sees_the_job_in_the_inbox(as_user, cast, awaiting):
    inbox = as_user(cast.bob).get("/approvals").body
    assert [a["job_id"] for a in inbox] == [awaiting["id"]]
    assert inbox[0]["status"] == "pending" and inbox[0]["reasons"] and inbox[0]["is_own"] is False
    assert inbox[0]["job"]["estimate"]["cost"] == "20.00"


def test_another_teams_approver_sees_nothing(as_user, cast, awaiting):
    assert as_user(cast.dave).get("/approvals").body == []


def test_approval_queues_the_job(as_user, cast, awaiting):
    reply = as_user(cast.bob).post(f"/approvals/{awaiting['id']}/approve", {"comment": "go"})
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "queued"


def test_rejection_ends_the_job(as_user, cast, awaiting):
    reply = as_user(cast.bob).post(f"/approvals/{awaiting['id']}/reject", {"comment": "too dear"})
    assert reply.status == 200 and reply.body["status"] == "rejected"


def test_a_researcher_cannot_approve(alice, awaiting):
    reply = alice.post(f"/approvals/{awaiting['id']}/approve", {"comment": "me"})
    assert reply.status == 403 and reply.code == "not_approver"


def test_an_approver_cannot_approve_their_own_job(as_user, cast):
    price("qsim", "20.00")
    bob = as_user(cast.bob)
    job = bob.post("/jobs", ghz_body(cast.qlab_experiment, backend="qsim"), headers={"Idempotency-Key": "b"}).body
    assert [(a["job_id"], a["is_own"]) for a in bob.get("/approvals").body] == [(job["id"], True)]
    reply = bob.post(f"/approvals/{job['id']}/approve", {})
    assert reply.status == 403 and reply.code == "own_job"


def test_deciding_twice_is_a_conflict(as_user, cast, awaiting):
    bob = as_user(cast.bob)
    bob.post(f"/approvals/{awaiting['id']}/approve", {})
    reply = bob.post(f"/approvals/{awaiting['id']}/reject", {"comment": "changed my mind"})
    assert reply.status == 409


def test_approval_input_is_validated(as_user, cast, awaiting):
    reply = as_user(cast.bob).post(f"/approvals/{awaiting['id']}/approve", {"shots": 0})
    assert reply.status == 422 and reply.body["field"] == "shots"


def test_backends_list_tier_price_and_queue(alice):
    backends = {b["id"]: b for b in alice.get("/backends").body}
    assert "qsim" in backends
    qsim = backends["qsim"]
    assert qsim["tier"] == 0 and qsim["emulated"] is False and qsim["max_qubits"] > 0
    assert qsim["price"]["kind"] == "free" and qsim["price"]["per_shot"] == "0.00"
    assert qsim["queue_depth"] == 0 and qsim["available"] is True
    hardware = [b for b in backends.values() if b["tier"] == 3]
    assert hardware and all(b["emulated"] for b in hardware)  # no vendor credentials here
    assert all(b["price"]["kind"] != "free" and b["price"]["currency"] == "USD" for b in hardware)
    ibm = backends["ibm:fake_manila"]["price"]  # numbers for programs, words with the unit for people
    assert ibm["per_second"] == "1.60" and ibm["description"] == "USD 1.60 per QPU-second"


def test_backends_count_queued_jobs(alice, cast):
    alice.post("/jobs", ghz_body(cast.qlab_experiment, backend="qsim"), headers={"Idempotency-Key": "q-1"})
    backends = {b["id"]: b for b in alice.get("/backends").body}
    assert backends["qsim"]["queue_depth"] == 1


def test_budgets_show_money_as_decimal_strings(alice):
    budgets = alice.get("/budgets").body
    assert budgets == [
        {
            **budgets[0],
            "team": "qlab",
            "experiment_class": "algorithm_validation",
            "limit": "100.00",
            "spent": "0.00",
            "reserved": "0.00",
            "remaining": "100.00",
            "approval_threshold": "10.00",
            "max_tier": 3,
            "currency": "USD",
        }
    ]


def test_budgets_show_reservations(alice, cast, awaiting):
    budget = alice.get("/budgets").body[0]
    assert (budget["reserved"], budget["remaining"]) == ("20.00", "80.00")


def test_experiments_of_my_teams_only(alice, cast):
    names = {(e["team"], e["name"]) for e in alice.get("/experiments").body}
    assert names == {("qlab", "qlab experiment")}


def test_create_an_experiment(alice, cast):
    reply = alice.post(
        "/experiments",
        {
            "name": "Grover sweep",
            "team": "qlab",
            "description": "3–6 qubits",
            "experiment_class": "algorithm_validation",
            "data_classification": "confidential",
            "retention_days": 90,
        },
    )
    assert reply.status == 201, reply.body
    assert reply.body["team"] == "qlab" and reply.body["experiment_class"] == "algorithm_validation"
    assert Experiment.objects.get(pk=reply.body["id"]).retention_days == 90


def test_an_experiment_in_a_team_i_am_not_in_is_refused(alice):
    reply = alice.post("/experiments", {"name": "intrusion", "team": "optics"})
    assert reply.status in (403, 404) and reply.body["field"] == "team"
    assert not Experiment.objects.filter(name="intrusion").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"team": "qlab"}, "name"),
        ({"name": "x", "team": "qlab", "retention_days": 0}, "retention_days"),
        ({"name": "x", "team": "qlab", "data_classification": "secret"}, "data_classification"),
    ],
)
def test_a_bad_experiment_is_422_naming_the_field(alice, body, field):
    reply = alice.post("/experiments", body)
    assert reply.status == 422 and reply.body["field"] == field
