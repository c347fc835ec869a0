"""The submit page: family inputs, the live estimate, errors next to their inputs, and the redirect."""

from __future__ import annotations

from django.urls import reverse

from jobs.models import Job

HTMX = {"HTTP_HX_REQUEST": "true"}


def form_data(cast, **overrides):
    data = {
        "experiment": cast.qlab_experiment.pk,
        "family": "ghz",
        "params.n_qubits": "3",
        "shots": "500",
        "max_tier": "0",
        "priority": "interactive",
        "backend": "",
        "labels": "",
    }
    return {**data, **overrides}


def test_family_inputs_come_from_the_params_model_with_description_bounds_and_example(alice_client):
    html = alice_client.get(reverse("submit_params"), {"family": "ghz"}, **HTMX).content.decode()
    assert "<html" not in html  # a fragment
    assert 'name="params.n_qubits"' in html and 'type="number"' in html
    assert 'min="2"' in html and 'value="5"' in html  # bound and Family.example
    assert "Number of entangled qubits" in html


def test_list_params_are_json_text_inputs(alice_client):
    html = alice_client.get(reverse("submit_params"), {"family": "qaoa_maxcut"}, **HTMX).content.decode()
    assert '<textarea id="id_params_edges" name="params.edges"' in html
    assert "(JSON)" in html


def test_unknown_family_is_not_found(alice_client):
    assert alice_client.get(reverse("submit_params"), {"family": "nope"}, **HTMX).status_code == 404


def test_estimate_partial_names_the_chosen_backend_cost_and_approval(alice_client, cast):
    response = alice_client.post(reverse("submit_quote"), form_data(cast), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "<code>qsim</code>" in html
    assert "USD 0.00" in html and "not needed" in html
    assert Job.objects.count() == 0  # a quote creates nothing


def test_estimate_for_hardware_says_emulated_and_why_it_needs_sign_off(alice_client, cast):
    data = form_data(cast, max_tier="3", backend="ibm:fake_manila")
    html = alice_client.post(reverse("submit_quote"), data, **HTMX).content.decode()
    assert "<code>ibm:fake_manila</code>" in html and "emulated</span>" in html
    assert "needs sign-off" in html and "tier 3 (hardware)" in html


def test_estimate_partial_explains_what_is_wrong(alice_client, cast):
    html = alice_client.post(reverse("submit_quote"), form_data(cast, **{"params.n_qubits": "1"}), **HTMX)
    assert "<code>params.n_qubits</code>" in html.content.decode()


def test_out_of_range_param_is_shown_next_to_its_input_and_nothing_is_submitted(alice_client, cast):
    response = alice_client.post(reverse("submit"), form_data(cast, **{"params.n_qubits": "1"}))
    html = response.content.decode()
    assert response.status_code == 422
    field = html.split('name="params.n_qubits"')[1].split('class="help"')[0]
    assert 'class="field-error"' in field and "params.n_qubits must be at least 2." in field
    assert 'value="1"' in html  # the user's input is kept
    assert Job.objects.count() == 0


def test_a_policy_refusal_lands_on_the_field_to_change(alice_client, cast):
    """40 qubits fit no tier-0 simulator: the service names max_tier, so the error sits under it."""
    response = alice_client.post(reverse("submit"), form_data(cast, **{"params.n_qubits": "40"}))
    html = response.content.decode()
    assert response.status_code == 422
    tier_field = html.split('for="id_max_tier"')[1].split('class="help"')[0]
    assert "field-error" in tier_field and "no backend within max_tier=0" in tier_field


def test_submitting_redirects_to_the_job_page_with_a_message(alice_client, cast):
    response = alice_client.post(reverse("submit"), form_data(cast, labels="paper=2025, sweep:1"), follow=True)
    job = Job.objects.get()
    assert response.redirect_chain[-1][0] == reverse("job_detail", args=[job.id])
    assert f"Job {str(job.id)[:8]} submitted" in response.content.decode()
    assert job.labels == ["paper=2025", "sweep:1"] and job.shots == 500


def test_experiments_offered_are_the_users_teams_only(alice_client, cast):
    html = alice_client.get(reverse("submit")).content.decode()
    assert cast.qlab_experiment.name in html and cast.optics_experiment.name not in html


def test_another_teams_experiment_is_refused_without_a_job(alice_client, cast):
    response = alice_client.post(reverse("submit"), form_data(cast, experiment=cast.optics_experiment.pk))
    assert response.status_code == 422 and Job.objects.count() == 0


def test_estimate_also_puts_errors_next_to_their_inputs_while_typing(alice_client, cast):
    html = alice_client.post(
        reverse("submit_quote"), form_data(cast, **{"params.n_qubits": "1"}), **HTMX
    ).content.decode()
    slot = html.split('id="err-id_params_n_qubits" hx-swap-oob="true">')[1].split("</div>")[0]
    assert "params.n_qubits must be at least 2." in slot
    cleared = html.split('id="err-id_shots" hx-swap-oob="true">')[1].split("</div>")[0]
    assert cleared == ""  # fields without an error are cleared


def test_the_submit_form_bills_the_experiments_class_whatever_is_posted(alice_client, cast):
    from tests.factories import make_budget, make_class

    lax = make_class("exploration")
    make_budget(cast.qlab, lax, limit="10000.00", threshold="5000.00")
    alice_client.post(reverse("submit"), form_data(cast, experiment_class=lax.slug))
    assert Job.objects.get().experiment_class == cast.klass


def test_the_form_words_its_refusals_like_the_api_and_shows_every_one(alice_client, cast):
    data = form_data(cast, shots="0", family="qaoa_maxcut")
    data.update({"params.n_nodes": "3", "params.edges": "[[0, 1], [1, 2]]", "params.p": "2"})
    data.update({"params.gammas": "[0.1]", "params.betas": "[0.2]"})
    html = alice_client.post(reverse("submit"), data).content.decode()
    assert "shots must be at least 1." in html and "Ensure this value" not in html
    data["shots"] = "500"
    html = alice_client.post(reverse("submit"), data).content.decode()
    for name in ("gammas", "betas"):
        field = html.split(f'name="params.{name}"')[1].split('class="help"')[0]
        assert f"params.{name} must have exactly 2 angles, one per layer (p = 2); it has 1." in field
    assert Job.objects.count() == 0
