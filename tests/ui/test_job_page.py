"""The job page: live status that stops polling at the end, the charts, metadata and actions."""

from __future__ import annotations

import json

from django.urls import reverse

from jobs.models import JobStatus

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_status_partial_polls_while_the_job_is_in_flight(alice_client, ghz_job):
    response = alice_client.get(reverse("job_status", args=[ghz_job.id]), **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 2s"' in html and "Queued" in html


def test_status_partial_stops_polling_at_a_terminal_state(alice_client, finished_job):
    html = alice_client.get(reverse("job_status", args=[finished_job.id]), **HTMX).content.decode()
    assert "Succeeded" in html
    assert "hx-trigger" not in html and "hx-get" not in html


def test_status_change_refreshes_the_whole_page(alice_client, finished_job):
    url = reverse("job_status", args=[finished_job.id])
    assert alice_client.get(url, {"seen": "running"}, **HTMX)["HX-Refresh"] == "true"
    assert "HX-Refresh" not in alice_client.get(url, {"seen": "succeeded"}, **HTMX)


def _figure(html, script_id):
    return json.loads(html.split(f'<script id="{script_id}" type="application/json">')[1].split("</script>")[0])


def test_histogram_is_sorted_with_the_ideal_overlaid_and_fidelity_beside_the_floor(alice_client, finished_job):
    html = alice_client.get(reverse("job_detail", args=[finished_job.id])).content.decode()
    figure = _figure(html, "histogram-data")
    measured, ideal = figure["data"]
    assert measured["x"] == ["000", "011", "111"]  # sorted bitstrings, qubit 0 leftmost
    assert measured["y"] == [0.48, 0.02, 0.5]
    assert ideal["name"] == "ideal" and ideal["y"] == [0.5, 0.0, 0.5]
    assert "0.980" in html and "uniform-sampler floor" in html and "0.250" in html  # (2·√½)²/8


def test_wide_results_show_the_64_most_frequent_outcomes(alice_client, cast):
    from tests import factories

    counts = {format(i, "08b"): i + 1 for i in range(200)}
    job = factories.make_job(cast.qlab_experiment, cast.alice, family="random", status=JobStatus.SUCCEEDED,
                             counts=counts, n_qubits=8, params={"n_qubits": 8, "depth": 2, "seed": 1})  # fmt: skip
    html = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    x = _figure(html, "histogram-data")["data"][0]["x"]
    assert len(x) == 64 and x == sorted(x) and "11000111" in x and "00000000" not in x
    assert "64 of 200 outcomes" in html


def test_timeline_is_a_gantt_of_the_recorded_stages(alice_client, ghz_job):
    html = alice_client.get(reverse("job_detail", args=[ghz_job.id])).content.decode()
    stages = [trace["name"] for trace in _figure(html, "timeline-data")["data"]]
    assert stages[:3] == ["Validate", "Assemble", "Select backend"]
    assert "Queue wait" in stages


def test_job_page_shows_reproducibility_metadata_and_decision_reasons(alice_client, ghz_job):
    html = alice_client.get(reverse("job_detail", args=[ghz_job.id])).content.decode()
    for value in (ghz_job.fingerprint[:17], ghz_job.trace_id, str(ghz_job.seed)):
        assert value in html
    assert ghz_job.policy_reasons[0][:30] in html
    assert "Event log" in html and "submitted → queued" in html


def test_actions_offered_follow_the_status(alice_client, ghz_job, finished_job):
    queued = alice_client.get(reverse("job_detail", args=[ghz_job.id])).content.decode()
    assert ">Pause<" in queued and ">Cancel job<" in queued and "data-confirm=" in queued and ">Reroute<" in queued
    done = alice_client.get(reverse("job_detail", args=[finished_job.id])).content.decode()
    assert ">Re-run as submitted<" in done and ">Cancel job<" not in done and ">Pause<" not in done


def test_cancel_posts_and_comes_back_with_a_message(alice_client, ghz_job):
    response = alice_client.post(reverse("job_action", args=[ghz_job.id, "cancel"]), follow=True)
    ghz_job.refresh_from_db()
    assert ghz_job.status == JobStatus.CANCELLED
    assert f"Job {str(ghz_job.id)[:8]} cancelled." in response.content.decode()


def test_an_illegal_action_is_explained_not_crashed(alice_client, finished_job):
    response = alice_client.post(reverse("job_action", args=[finished_job.id, "pause"]), follow=True)
    assert response.status_code == 200
    assert 'class="message message-error"' in response.content.decode()


def test_actions_are_post_only(alice_client, ghz_job):
    assert alice_client.get(reverse("job_action", args=[ghz_job.id, "cancel"])).status_code == 405
