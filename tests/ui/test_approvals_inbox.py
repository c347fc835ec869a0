"""The approvals inbox's notes and nav badge: who withdrew a request, and a count that follows decisions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import JobStatus
from jobs.services import approvals_expire, job_cancel, job_submit

HTMX = {"HTTP_HX_REQUEST": "true"}
BADGE = re.compile(r'<span id="approvals-badge"[^>]*>([^<]*)</span>')


def _hardware_job(cast, shots: int = 200):
    request = {"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": 3}, "shots": shots,
               "max_tier": 3, "backend": "ibm:fake_manila"}  # fmt: skip
    job = job_submit(user=cast.alice, request=request).job
    assert job.status == JobStatus.AWAITING_APPROVAL
    return job


@pytest.fixture
def two_waiting(cast):
    return [_hardware_job(cast, 200), _hardware_job(cast, 300)]


def test_a_withdrawn_request_names_who_withdrew_it_and_why(bob_client, cast):
    job = _hardware_job(cast)
    job_cancel(user=cast.alice, job_id=job.pk)
    html = bob_client.get(reverse("approvals")).content.decode()
    note = html.split(f'href="{reverse("job_detail", args=[job.id])}"')[1].split("</div>")[0]
    assert "withdrawn by alice" in note and "(job cancelled)" in note
    assert not re.search(r"by\s*[.(]", note)


def test_an_expired_request_says_that_no_approver_decided(bob_client, cast):
    job = _hardware_job(cast)
    assert approvals_expire(now=timezone.now() + timedelta(days=30)) == 1
    html = bob_client.get(reverse("approvals")).content.decode()
    note = html.split(f'href="{reverse("job_detail", args=[job.id])}"')[1].split("</div>")[0]
    assert "no approver decided" in note and not re.search(r"by\s*[.(]", note)


def test_each_decision_updates_the_nav_badge(bob_client, two_waiting):
    page = bob_client.get(reverse("approvals")).content.decode()
    assert BADGE.findall(page) == ["2"]  # one badge, in the nav

    first, second = two_waiting
    decided = bob_client.post(reverse("approval_decide", args=[first.id]), {"decision": "approve"}, **HTMX)
    html = decided.content.decode()
    assert "Approved by bob" in html
    assert 'hx-swap-oob="true"' in html and BADGE.findall(html) == ["1"]

    decided = bob_client.post(reverse("approval_decide", args=[second.id]), {"decision": "reject"}, **HTMX)
    badge = BADGE.search(decided.content.decode())
    assert badge.group(1) == "" and " hidden" in badge.group(0)  # nothing left: no badge shown


def test_the_inbox_refresh_brings_the_badge_up_to_date(bob_client, cast, two_waiting):
    _hardware_job(cast, 400)  # arrived since the page was loaded
    html = bob_client.get(reverse("approvals"), **HTMX).content.decode()
    assert BADGE.findall(html) == ["3"] and 'hx-swap-oob="true"' in html


def test_the_inbox_refresh_keeps_the_decision_forms_being_edited(bob_client, two_waiting):
    html = bob_client.get(reverse("approvals"), **HTMX).content.decode()
    for job in two_waiting:  # htmx keeps each form (what was typed, focus) when the rows are replaced
        assert re.search(rf'<form id="decide-{job.id}" hx-preserve[ >]', html)


def test_a_researcher_without_the_badge_gets_no_badge_update(alice_client, two_waiting):
    html = alice_client.get(reverse("approvals"), **HTMX).content.decode()
    assert 'id="inbox"' in html and "approvals-badge" not in html  # the nav shows her none to update
