"""Tokens (secret shown once), budgets (burn-down, holds, ledger), experiments and dashboard partials."""

from __future__ import annotations

import json

from django.urls import reverse

from budgets.models import ApiToken
from budgets.services import token_authenticate
from jobs.models import Experiment

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_new_token_is_shown_once_and_works(alice_client):
    response = alice_client.post(reverse("tokens"), {"name": "notebook", "scopes": ["read", "submit"], "days": "30"},
                                 follow=True)  # fmt: skip
    html = response.content.decode()
    secret = html.split('<code id="new-token">')[1].split("</code>")[0]
    assert token_authenticate(secret).name == "notebook"
    assert 'data-copy="#new-token"' in html
    again = alice_client.get(reverse("tokens")).content.decode()
    assert secret not in again and secret[:10] in again  # the prefix stays, the secret is gone


def test_token_form_needs_a_scope(alice_client):
    response = alice_client.post(reverse("tokens"), {"name": "x", "days": "30"})
    assert "field-error" in response.content.decode() and ApiToken.objects.count() == 0


def test_revoking_a_token_and_nobody_elses(alice_client, carol_client, cast):
    from budgets.services import token_issue

    token, secret = token_issue(user=cast.alice, scopes=["read"], name="old")
    assert carol_client.post(reverse("token_revoke", args=[token.pk])).status_code == 404
    alice_client.post(reverse("token_revoke", args=[token.pk]))
    assert token_authenticate(secret) is None
    assert "revoked" in alice_client.get(reverse("tokens")).content.decode()


def test_budgets_page_shows_usage_holds_ledger_and_a_burn_down(alice_client, cast, ghz_job):
    html = alice_client.get(reverse("budgets")).content.decode()
    assert cast.klass.name in html and "USD 100.00" in html
    assert "Recent ledger" in html and "Set limit" in html
    figure = json.loads(
        html.split(f'id="burn-{cast.qlab_budget.pk}" type="application/json">')[1].split("</script>")[0]
    )
    assert figure["data"][0]["y"][-1] == 100.0  # nothing spent yet
    assert cast.optics.name not in html


def test_new_experiment_lands_on_its_page(alice_client, cast):
    data = {"name": "Bell sweep", "team": "qlab", "experiment_class": cast.klass.slug, "description": "",
            "data_classification": "internal"}  # fmt: skip
    response = alice_client.post(reverse("experiment_new"), data, follow=True)
    experiment = Experiment.objects.get(name="Bell sweep")
    assert response.redirect_chain[-1][0] == reverse("experiment_detail", args=[experiment.pk])
    assert experiment.team == cast.qlab


def test_new_experiment_refuses_a_duplicate_name_on_the_field(alice_client, cast):
    data = {"name": cast.qlab_experiment.name, "team": "qlab", "experiment_class": cast.klass.slug,
            "data_classification": "internal"}  # fmt: skip
    html = alice_client.post(reverse("experiment_new"), data).content.decode()
    assert "field-error" in html.split('for="id_name"')[1].split('for="id_team"')[0]


def test_new_experiment_offers_only_the_users_teams(alice_client):
    html = alice_client.get(reverse("experiment_new")).content.decode()
    assert 'value="qlab"' in html and 'value="optics"' not in html


def test_experiment_table_filters_sorts_and_answers_htmx_with_a_fragment(alice_client, cast, ghz_job, finished_job):
    url = reverse("experiment_detail", args=[cast.qlab_experiment.pk])
    full = alice_client.get(url).content.decode()
    assert str(ghz_job.id)[:8] in full and str(finished_job.id)[:8] in full
    fragment = alice_client.get(url, {"status": "succeeded", "sort": "cost"}, **HTMX).content.decode()
    assert "<html" not in fragment and 'id="jobs-table"' in fragment
    assert str(finished_job.id)[:8] in fragment and str(ghz_job.id)[:8] not in fragment
    by_id = alice_client.get(url, {"q": str(ghz_job.id)[:6]}).content.decode()
    assert str(ghz_job.id)[:8] in by_id.split('id="jobs-table"')[1] and str(finished_job.id)[:8] not in by_id


def test_dashboard_panels_are_fragments_that_poll(alice_client, finished_job):
    for panel in ("queues", "running", "runtimes", "failures", "budgets", "approvals", "recent"):
        html = alice_client.get(reverse("dashboard_panel", args=[panel]), **HTMX).content.decode()
        assert "<html" not in html and f'id="panel-{panel}"' in html and 'hx-trigger="every 5s"' in html
    runtimes = alice_client.get(reverse("dashboard_panel", args=["runtimes"]), **HTMX).content.decode()
    assert "2.00 s" in runtimes  # started → finished of the one job
    assert alice_client.get(reverse("dashboard_panel", args=["nope"]), **HTMX).status_code == 404


def test_dashboard_loads_the_slo_card_with_the_teams_numbers(alice_client, finished_job):
    assert "/dashboard/slos/" in alice_client.get(reverse("dashboard")).content.decode()
    html = alice_client.get(reverse("slo_panel"), **HTMX).content.decode()
    assert "<html" not in html and "Simulator jobs done in &lt; 2 min" in html
    assert "100.0%" in html and "1 of 1 jobs" in html


def test_sort_links_toggle_direction_and_keep_the_filters(alice_client, cast, finished_job):
    html = alice_client.get(reverse("job_list"), {"status": "succeeded", "sort": "cost"}).content.decode()
    cost_header = html.split('aria-sort="ascending"')[1].split("</th>")[0]
    assert "status=succeeded&amp;sort=-cost" in cost_header and "sort=cost&amp;sort" not in html


def test_every_page_works_with_a_team_chosen_in_the_switcher(bob_client, cast):
    bob_client.post(reverse("team_switch"), {"team": "qlab", "next": "/"})
    for name in ("dashboard", "submit", "job_list", "experiment_list", "approvals", "budgets", "backends", "tokens"):
        assert bob_client.get(reverse(name)).status_code == 200, name
    assert bob_client.get(reverse("approvals"), **HTMX).status_code == 200
