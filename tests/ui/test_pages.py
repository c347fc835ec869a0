"""Every page needs a sign-in, shows only the user's teams' data, and renders for a signed-in user."""

from __future__ import annotations

import pytest
from django.urls import reverse

PAGES = [
    ("dashboard", {}),
    ("submit", {}),
    ("job_list", {}),
    ("experiment_list", {}),
    ("experiment_new", {}),
    ("approvals", {}),
    ("budgets", {}),
    ("backends", {}),
    ("tokens", {}),
]


PARTIALS = [("dashboard_panel", {"panel": "queues"}), ("submit_params", {}), ("slo_panel", {})]


@pytest.mark.parametrize(("name", "kwargs"), PAGES + PARTIALS)
def test_every_page_sends_anonymous_visitors_to_sign_in(client, db, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_every_page_renders_for_a_member(alice_client, name, kwargs):
    response = alice_client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200
    assert b'id="main"' in response.content


def test_job_and_experiment_pages_need_sign_in(client, ghz_job):
    for url in (reverse("job_detail", args=[ghz_job.id]), reverse("experiment_detail", args=[ghz_job.experiment_id])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_another_teams_job_and_experiment_are_not_found(carol_client, ghz_job):
    assert carol_client.get(reverse("job_detail", args=[ghz_job.id])).status_code == 404
    assert carol_client.get(reverse("job_status", args=[ghz_job.id])).status_code == 404
    assert carol_client.get(reverse("experiment_detail", args=[ghz_job.experiment_id])).status_code == 404
    assert carol_client.post(reverse("job_action", args=[ghz_job.id, "cancel"])).status_code == 404


def test_job_list_shows_only_the_users_teams_jobs(alice_client, carol_client, ghz_job):
    short = str(ghz_job.id)[:8]
    assert short in alice_client.get(reverse("job_list")).content.decode()
    assert short not in carol_client.get(reverse("job_list")).content.decode()


def test_layout_has_navigation_team_switcher_role_and_csrf_header(alice_client, cast):
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken"' in html
    assert 'href="#main"' in html  # skip link
    assert "All my teams" in html and cast.qlab.name in html and cast.optics.name not in html
    assert ">researcher<" in html
    for label in ("Dashboard", "Submit", "Jobs", "Experiments", "Budgets", "Backends", "Tokens", "API docs"):
        assert f">{label}<" in html
    assert ">Approvals" not in html  # researchers have no inbox


def test_approver_sees_the_approvals_link_with_the_pending_count(bob_client, cast):
    from jobs.services import job_submit

    job_submit(
        user=cast.alice,
        request={"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": 3}, "max_tier": 3,
                 "backend": "ibm:fake_manila"},
    )  # fmt: skip
    html = bob_client.get(reverse("dashboard")).content.decode()
    assert ">Approvals" in html and 'aria-label="1 pending"' in html
    assert ">approver<" in html


def test_team_switch_is_remembered_and_refuses_other_teams(alice_client, cast):
    alice_client.post(reverse("team_switch"), {"team": "qlab", "next": "/jobs/"})
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert 'value="qlab" selected' in html
    alice_client.post(reverse("team_switch"), {"team": "optics", "next": "https://evil.example/"})
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert "selected" not in html.split('id="team-select"')[1].split("</select>")[0]


def test_logout_is_a_post(alice_client):
    assert alice_client.get(reverse("logout")).status_code == 405
    response = alice_client.post(reverse("logout"))
    assert response.status_code == 302
    assert alice_client.get(reverse("dashboard")).status_code == 302


def test_an_emulated_device_is_labelled_emulated_on_the_backends_page(alice_client):
    html = alice_client.get(reverse("backends")).content.decode()
    row = html.split("<code>ibm:fake_manila</code>")[1].split("</tr>")[0]
    assert "emulated</span>" in row


def test_budget_alert_banner_shows_the_highest_threshold_crossed(alice_client, carol_client, cast):
    from budgets.models import Budget
    from budgets.services import alerts_check

    Budget.objects.filter(pk=cast.qlab_budget.pk).update(spent_micros=85_000_000)
    alerts_check(budget=cast.qlab_budget)
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert "Budget 80% used:" in html and "Budget 50% used:" not in html
    assert "Budget 80% used:" not in carol_client.get(reverse("dashboard")).content.decode()
