"""The job page's controls and costs: only what the job's status admits, re-runs that say which backend
they use, and what a finished job was actually charged."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from budgets.models import Hold, HoldStatus
from budgets.services import hold_settle
from jobs.lifecycle import transition
from jobs.models import Job, JobStatus
from jobs.services import approval_decide, job_cancel, job_pause, job_reroute, job_submit

KYIV = "ibm:fake_kyiv"
LIFECYCLE = ("pause", "resume", "cancel", "reroute")


def _submit(cast, **overrides) -> Job:
    request = {"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": 3}, "shots": 200,
               "no_cache": True, **overrides}  # fmt: skip
    return job_submit(user=cast.alice, request=request).job


def _hardware(cast) -> Job:
    job = _submit(cast, max_tier=3, backend=KYIV)
    assert job.status == JobStatus.AWAITING_APPROVAL
    return job


def _worker_moves(job: Job, *statuses: str, **fields) -> Job:
    for status in statuses:
        assert transition(job.pk, from_statuses=[job.status], to_status=status, actor_label="worker", **fields)
        job.refresh_from_db()
    return job


def _job_in(cast, status: str) -> Job:
    now = timezone.now()
    match status:
        case JobStatus.QUEUED:
            return _submit(cast)
        case JobStatus.AWAITING_APPROVAL:
            return _hardware(cast)
        case JobStatus.PAUSED:
            return job_pause(user=cast.alice, job_id=_submit(cast).pk)
        case JobStatus.RUNNING:
            return _worker_moves(_submit(cast), JobStatus.RUNNING, started_at=now)
        case JobStatus.SUCCEEDED:
            return _worker_moves(_submit(cast), JobStatus.RUNNING, JobStatus.SUCCEEDED, cost_micros=0, finished_at=now)
        case JobStatus.FAILED:
            return _worker_moves(_submit(cast), JobStatus.RUNNING, JobStatus.FAILED, finished_at=now)
        case JobStatus.CANCELLED:
            return job_cancel(user=cast.alice, job_id=_hardware(cast).pk)
        case JobStatus.REJECTED:
            return approval_decide(user=cast.bob, job_id=_hardware(cast).pk, decision="reject", comment="no")
    raise AssertionError(status)


def _offered(client, job: Job) -> set[str]:
    html = client.get(reverse("job_detail", args=[job.id])).content.decode()
    return {a for a in (*LIFECYCLE, "rerun") if f'action="{reverse("job_action", args=[job.id, a])}"' in html}


def _accepted(client, job: Job, action: str) -> bool:
    response = client.post(reverse("job_action", args=[job.id, action]), {"backend": "aer"}, follow=True)
    return 'class="message message-success"' in response.content.decode()


@pytest.mark.parametrize("status", [s for s in JobStatus.values if s != JobStatus.SUBMITTED])
def test_every_control_offered_is_one_the_server_accepts_and_no_other(alice_client, cast, status):
    offered = _offered(alice_client, _job_in(cast, status))
    accepted = {action for action in LIFECYCLE if _accepted(alice_client, _job_in(cast, status), action)}
    assert offered - {"rerun"} == accepted
    assert ("rerun" in offered) == (status in {"succeeded", "failed", "cancelled", "rejected"})


def test_a_running_job_offers_cancel_but_not_pause(alice_client, cast):
    job = _job_in(cast, JobStatus.RUNNING)
    html = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert ">Cancel job<" in html and ">Pause<" not in html and ">Reroute<" not in html


@pytest.fixture
def rerouted(cast) -> Job:
    """A job submitted pinned to an emulated IBM device, rerouted to aer by its submitter, then run."""
    job = job_reroute(user=cast.alice, job_id=_hardware(cast).pk, backend="aer", reason="cheaper")
    assert (job.backend, job.backend_pin, job.status) == ("aer", KYIV, JobStatus.QUEUED)
    return _worker_moves(job, JobStatus.RUNNING, JobStatus.SUCCEEDED, cost_micros=0, finished_at=timezone.now())


def _rerun(client, job: Job, on: str) -> Job:
    response = client.post(reverse("job_action", args=[job.id, "rerun"]), {"on": on})
    assert response.status_code == 302
    return Job.objects.exclude(pk=job.pk).get(pk=response["Location"].split("/")[-2])


def test_a_rerouted_job_reruns_on_the_backend_it_ran_on_without_holding_money(alice_client, rerouted):
    html = alice_client.get(reverse("job_detail", args=[rerouted.id])).content.decode()
    assert f">Re-run as submitted ({KYIV})<" in html and ">Re-run on aer<" in html and ">Edit and re-run<" in html

    again = _rerun(alice_client, rerouted, "ran_on")
    assert (again.backend, again.status, again.params) == ("aer", JobStatus.QUEUED, rerouted.params)
    assert not Hold.objects.filter(job=again, amount_micros__gt=0).exists()


def test_rerun_as_submitted_goes_back_to_the_pinned_device_and_its_sign_off(alice_client, rerouted):
    again = _rerun(alice_client, rerouted, "submitted")
    assert (again.backend, again.status) == (KYIV, JobStatus.AWAITING_APPROVAL)
    assert Hold.objects.get(job=again).amount_micros == again.estimate["cost_micros"] > 0


def test_an_unknown_rerun_choice_is_refused_naming_the_choices(alice_client, rerouted):
    response = alice_client.post(reverse("job_action", args=[rerouted.id, "rerun"]), {"on": "elsewhere"}, follow=True)
    assert "as submitted or on the backend it ran on" in response.content.decode()
    assert Job.objects.count() == 1


def test_edit_and_rerun_opens_the_submit_form_prefilled_with_the_job(alice_client, cast, rerouted):
    Job.objects.filter(pk=rerouted.pk).update(labels=["paper=2025", "sweep:3"], shots=321, params={"n_qubits": 4})
    html = alice_client.get(reverse("submit"), {"rerun": str(rerouted.id)}).content.decode()
    assert re.search(r'<option value="ghz"[^>]* selected>', html)
    assert 'name="params.n_qubits" value="4"' in html
    assert 'name="shots" value="321"' in html
    assert '<option value="aer" selected>' in html  # the backend it ran on, not the one it was pinned to
    assert 'value="paper=2025, sweep:3"' in html
    assert "Prefilled from job" in html and str(rerouted.id)[:8] in html


def test_edit_and_rerun_of_another_teams_job_is_not_found(carol_client, rerouted):
    assert carol_client.get(reverse("submit"), {"rerun": str(rerouted.id)}).status_code == 404


def test_a_cancelled_job_shows_its_reservation_released_not_a_pending_cost(alice_client, cast):
    job = _job_in(cast, JobStatus.CANCELLED)
    assert job.estimate["cost_micros"] > 0 and Hold.objects.get(job=job).status == HoldStatus.RELEASED

    page = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    actual = page.split("<dt>Actual</dt>")[1].split("</dd>")[0]
    assert "USD 0.00" in actual and "(released)" in actual and "when it finishes" not in actual

    listing = alice_client.get(reverse("job_list")).content.decode()
    row = listing.split(f'href="{reverse("job_detail", args=[job.id])}"')[1].split("</tr>")[0]
    assert "USD 0.00" in row and "(released)" in row and "~" not in row


def test_a_succeeded_job_shows_the_cost_it_settled_at(alice_client, cast):
    job = _job_in(cast, JobStatus.AWAITING_APPROVAL)
    job = approval_decide(user=cast.bob, job_id=job.pk, decision="approve")
    _worker_moves(job, JobStatus.RUNNING)
    transition(job.pk, from_statuses=[JobStatus.RUNNING], to_status=JobStatus.SUCCEEDED, actor_label="worker",
               cost_micros=1_250_000, finished_at=timezone.now())  # fmt: skip
    hold_settle(job=job, actual_micros=1_250_000)

    page = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    actual = page.split("<dt>Actual</dt>")[1].split("</dd>")[0]
    assert "USD 1.25" in actual and "released" not in actual
    listing = alice_client.get(reverse("job_list")).content.decode()
    row = listing.split(f'href="{reverse("job_detail", args=[job.id])}"')[1].split("</tr>")[0]
    assert "USD 1.25" in row and "~" not in row


def test_a_job_in_flight_shows_its_estimate_as_an_estimate(alice_client, cast):
    job = _job_in(cast, JobStatus.AWAITING_APPROVAL)
    listing = alice_client.get(reverse("job_list")).content.decode()
    row = listing.split(f'href="{reverse("job_detail", args=[job.id])}"')[1].split("</tr>")[0]
    assert "~USD" in row
    page = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "when it finishes" in page.split("<dt>Actual</dt>")[1].split("</dd>")[0]
