"""The approvals inbox: what an approver sees, deciding in place, and the four-eyes rule."""

from __future__ import annotations

import pytest
from django.urls import reverse

from budgets.models import Hold, HoldStatus
from budgets.services import budget_set
from jobs.models import JobStatus
from jobs.services import job_submit
from tests import factories
from tests.ui.conftest import signed_in

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def hardware_job(cast):
    request = {"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": 3}, "shots": 200,
               "max_tier": 3, "backend": "ibm:fake_manila"}  # fmt: skip
    job = job_submit(user=cast.alice, request=request).job
    assert job.status == JobStatus.AWAITING_APPROVAL
    return job


def test_inbox_lists_the_job_with_submitter_estimate_budget_impact_and_reasons(bob_client, hardware_job):
    html = bob_client.get(reverse("approvals")).content.decode()
    row = html.split(f'id="approval-{hardware_job.id}"')[1].split("</tr>")[0]
    assert "alice" in row and "ibm:fake_manila" in row and "emulated</span>" in row
    assert "USD 100.00 → <strong>USD" in row  # remaining before → after
    assert "tier 3 (hardware) needs sign-off" in row
    assert ">Approve<" in row and ">Reject<" in row


def test_approving_swaps_the_row_and_queues_the_job(bob_client, hardware_job):
    url = reverse("approval_decide", args=[hardware_job.id])
    response = bob_client.post(url, {"decision": "approve", "comment": "go"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html and f'id="approval-{hardware_job.id}"' in html
    assert "Approved by bob" in html and "“go”" in html
    hardware_job.refresh_from_db()
    assert hardware_job.status == JobStatus.QUEUED


def test_a_second_decision_shows_who_decided_first(bob_client, cast, hardware_job):
    second_approver = factories.make_user("erin", cast.qlab, "approver")
    bob_client.post(reverse("approval_decide", args=[hardware_job.id]), {"decision": "approve"}, **HTMX)
    late = signed_in(second_approver).post(
        reverse("approval_decide", args=[hardware_job.id]), {"decision": "reject", "comment": "no"}, **HTMX
    )
    assert "bob" in late.content.decode() and 'role="alert"' in late.content.decode()
    inbox = signed_in(second_approver).get(reverse("approvals")).content.decode()
    assert "approved by bob" in inbox  # other approvers' decisions appear as notes


def test_the_submitter_cannot_approve_their_own_job(cast, hardware_job):
    cast.alice.memberships.update(role="approver")
    client = signed_in(cast.alice)
    html = client.get(reverse("approvals")).content.decode()
    assert "another approver must decide" in html and ">Approve<" not in html
    client.post(reverse("approval_decide", args=[hardware_job.id]), {"decision": "approve"}, **HTMX)
    hardware_job.refresh_from_db()
    assert hardware_job.status == JobStatus.AWAITING_APPROVAL


def test_researchers_and_other_teams_cannot_decide(alice_client, carol_client, hardware_job):
    url = reverse("approval_decide", args=[hardware_job.id])
    assert carol_client.post(url, {"decision": "approve"}, **HTMX).status_code == 404
    alice_client.post(url, {"decision": "approve"}, **HTMX)
    hardware_job.refresh_from_db()
    assert hardware_job.status == JobStatus.AWAITING_APPROVAL


def test_inbox_partial_is_a_fragment_that_keeps_polling(bob_client, hardware_job):
    html = bob_client.get(reverse("approvals"), **HTMX).content.decode()
    assert "<html" not in html and 'id="inbox"' in html and "every 10s" in html


def test_a_job_the_lowered_tier_cap_rules_out_is_flagged_and_refused_in_place(bob_client, cast, hardware_job):
    budget_set(team=cast.qlab, experiment_class=cast.klass, limit_micros=None, max_tier=2)  # hardware off

    inbox = bob_client.get(reverse("approvals")).content.decode()
    row = inbox.split(f'id="approval-{hardware_job.id}"')[1].split("</tr>")[0]
    assert "Cannot be approved as it stands:" in row and "tier 3 (hardware) is above tier 2" in row

    url = reverse("approval_decide", args=[hardware_job.id])
    refused = bob_client.post(url, {"decision": "approve"}, **HTMX).content.decode()
    assert 'role="alert"' in refused and f"cannot be approved on {hardware_job.backend}" in refused
    assert "qlab / algorithm_validation budget allows" in refused
    assert '<option value="aer-noisy:fake_manila" selected>' in refused  # the offered backend, ready to approve
    assert ">Approve<" in refused and ">Reject<" in refused  # the row stays decidable
    hardware_job.refresh_from_db()
    assert hardware_job.status == JobStatus.AWAITING_APPROVAL

    rejected = bob_client.post(url, {"decision": "reject", "comment": "no hardware"}, **HTMX).content.decode()
    assert "Rejected by bob" in rejected
    assert Hold.objects.get(job=hardware_job).status == HoldStatus.RELEASED
