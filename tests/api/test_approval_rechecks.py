"""An approval checks the job against its budget as it is now, not as it was when the job was sent."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command

from budgets.models import Budget, Hold, HoldStatus
from jobs.models import Approval, ApprovalStatus, Job, JobStatus
from tests import factories
from tests.api.conftest import ghz_body
from tests.jobs.orch_support import enqueued_job_ids


@pytest.fixture
def board_demo(cast):  # noqa: ANN001
    """qlab's executive_demo class: hardware allowed (max tier 3), approval above USD 10.00."""
    klass = factories.make_class("executive_demo")
    factories.make_budget(cast.qlab, klass, limit="100.00", threshold="10.00", max_tier=3)
    return factories.make_experiment(cast.qlab, klass, "board demo")


def _hardware_jobs(alice, board_demo, n: int) -> list[dict]:  # noqa: ANN001
    body = ghz_body(board_demo, backend="ibm:fake_athens", max_tier=3, no_cache=True)
    jobs = [alice.post("/jobs", body, headers={"Idempotency-Key": str(uuid.uuid4())}).body for _ in range(n)]
    assert [j["status"] for j in jobs] == ["awaiting_approval"] * n
    return jobs


def _budget() -> Budget:
    return Budget.objects.get(team__slug="qlab", experiment_class__slug="executive_demo")


def test_a_lowered_tier_cap_stops_waiting_hardware_jobs_from_being_approved(as_user, alice, cast, board_demo):
    jobs = _hardware_jobs(alice, board_demo, 3)
    held = _budget().reserved_micros
    assert held > 0

    call_command("set_budget", "qlab", "executive_demo", "--max-tier", "2", stdout=io.StringIO())

    bob = as_user(cast.bob)
    for job in jobs:
        reply = bob.post(f"/approvals/{job['id']}/approve", {"comment": "go"})
        assert (reply.status, reply.code, reply.body["field"]) == (422, "tier_not_allowed", "backend")
        assert "qlab / executive_demo budget allows" in reply.body["message"]
        assert reply.body["detail"]["max_tier"] == 2
        assert reply.body["detail"]["suggested_backend"] == "aer-noisy:fake_athens"
    # Nothing ran, nothing was charged, the requests still wait for a decision.
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.AWAITING_APPROVAL}
    assert set(Approval.objects.values_list("status", flat=True)) == {ApprovalStatus.PENDING}
    assert enqueued_job_ids() == []
    assert (_budget().spent_micros, _budget().reserved_micros) == (0, held)


def test_the_approver_may_take_the_offered_backend_or_reject_to_release_the_hold(as_user, alice, cast, board_demo):
    moved, refused = _hardware_jobs(alice, board_demo, 2)
    call_command("set_budget", "qlab", "executive_demo", "--max-tier", "2", stdout=io.StringIO())
    bob = as_user(cast.bob)
    offered = bob.post(f"/approvals/{moved['id']}/approve", {}).body["detail"]["suggested_backend"]

    approved = bob.post(f"/approvals/{moved['id']}/approve", {"backend": offered})
    assert approved.status == 200, approved.body
    assert (approved.body["status"], approved.body["backend"], approved.body["tier"]) == ("queued", offered, 2)
    still_hardware = bob.post(f"/approvals/{refused['id']}/approve", {"backend": "ibm:fake_manila"})
    assert still_hardware.status == 422 and still_hardware.body["field"] == "backend"

    rejected = bob.post(f"/approvals/{refused['id']}/reject", {"comment": "hardware is off for demos"})
    assert rejected.status == 200 and rejected.body["status"] == "rejected"
    assert Hold.objects.get(job_id=refused["id"]).status == HoldStatus.RELEASED
    assert _budget().reserved_micros == Hold.objects.get(job_id=moved["id"]).amount_micros


def test_an_approval_the_lowered_limit_no_longer_covers_is_refused_naming_the_budget(
    as_user, alice, cast, board_demo
):
    klass = board_demo.experiment_class
    klass.park_over_budget = True  # over-budget jobs wait for a sign-off instead of being refused
    klass.save()
    body = ghz_body(board_demo, backend="ibm:fake_athens", max_tier=3, no_cache=True)
    cost = float(alice.post("/jobs/quote", body).body["cost"])
    call_command("set_budget", "qlab", "executive_demo", "--limit", f"{cost * 1.5:.6f}", stdout=io.StringIO())
    first, parked = _hardware_jobs(alice, board_demo, 2)  # the second finds no room: parked, nothing held
    assert not Hold.objects.filter(job_id=parked["id"], status=HoldStatus.PENDING).exists()
    bob = as_user(cast.bob)
    assert bob.post(f"/approvals/{first['id']}/reject", {}).status == 200  # room for the parked one again

    call_command("set_budget", "qlab", "executive_demo", "--limit", f"{cost * 0.5:.6f}", stdout=io.StringIO())
    reply = bob.post(f"/approvals/{parked['id']}/approve", {})

    assert (reply.status, reply.code, reply.body["field"]) == (422, "budget_exceeded", "budget")
    message = reply.body["message"]
    assert message.startswith("cannot approve") and "qlab / executive_demo" in message
    assert "limit USD" in message and "Raise the budget's limit or reject the job" in message
    assert Approval.objects.get(job_id=parked["id"]).status == ApprovalStatus.PENDING
    assert Job.objects.get(pk=parked["id"]).status == JobStatus.AWAITING_APPROVAL
    assert (_budget().spent_micros, _budget().reserved_micros) == (0, 0)
