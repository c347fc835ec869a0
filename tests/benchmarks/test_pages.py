"""Benchmark pages: the runs list and its form, one run's comparison, team scoping."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from benchmarks.models import BenchmarkRun

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    return client


def test_benchmark_pages_need_a_sign_in(ghz_run):
    for url in ("/benchmarks/", f"/benchmarks/{ghz_run.pk}/", f"/benchmarks/{ghz_run.pk}/status/"):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_teams_run_is_not_found(cast, ghz_run):
    carol = signed_in(cast.carol)
    assert carol.get(f"/benchmarks/{ghz_run.pk}/").status_code == 404
    assert carol.get(f"/benchmarks/{ghz_run.pk}/status/").status_code == 404
    assert f"#{ghz_run.pk}" not in carol.get("/benchmarks/").content.decode()


def test_run_page_shows_floor_beside_fidelity_emulated_label_and_greyed_difference(cast, ghz_run):
    html = signed_in(cast.alice).get(f"/benchmarks/{ghz_run.pk}/").content.decode()
    assert "Perfect-sampler floor" in html
    assert re.search(r'class="num muted floor">0\.99\d<', html)  # GHZ with 300 shots: a perfect sampler ≈ 1
    assert "badge-emulated" in html and ">emulated</span>" in html  # ibm:fake_manila, never shown as real
    assert "diff-not-significant" in html  # cirq vs qsim: both ideal, the CI spans 0
    assert "wait for an approver" in html  # the IBM trials await sign-off
    assert "skipped: needs 8 qubits; ibm:fake_manila takes 5" in html
    assert 'data-figure="fidelity-data"' in html and "vendor/plotly.min.js" in html
    assert "calibration" in html.lower() and "2024-05-27" in html  # the device's calibration date is pinned
    assert 'hx-trigger="every 2s"' in html  # still waiting on the hardware trials: the status polls


def test_status_strip_stops_polling_once_every_job_is_terminal(cast):
    from benchmarks.services import benchmark_run_start
    from tests.benchmarks.conftest import run_queued_inline

    run = benchmark_run_start(
        user=cast.alice, suite="bv", experiment_id=cast.qlab_experiment.pk, backends=["qsim"], trials=1, shots=100
    )
    alice = signed_in(cast.alice)
    assert 'hx-trigger="every 2s"' in alice.get(f"/benchmarks/{run.pk}/status/?seen=running").content.decode()
    run_queued_inline(run)
    response = alice.get(f"/benchmarks/{run.pk}/status/?seen=running")
    assert "hx-trigger" not in response.content.decode() and response["HX-Refresh"] == "true"


def test_form_starts_a_run_and_lands_on_its_page(cast):
    response = signed_in(cast.alice).post(
        "/benchmarks/",
        {
            "suite": "bv",
            "experiment": cast.qlab_experiment.pk,
            "backends": ["qsim", "qsim-noisy"],
            "trials": 2,
            "shots": 100,
        },
    )
    run = BenchmarkRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/benchmarks/{run.pk}/"
    assert run.trials.count() == 3 * 2 * 2 and run.created_by == cast.alice


def test_form_refuses_another_teams_experiment(cast):
    response = signed_in(cast.carol).post("/benchmarks/", {"suite": "bv", "experiment": cast.qlab_experiment.pk})
    assert response.status_code == 422 and not BenchmarkRun.objects.exists()


def test_runs_list_shows_the_runs_status(cast, ghz_run):
    html = signed_in(cast.alice).get("/benchmarks/").content.decode()
    assert f'href="/benchmarks/{ghz_run.pk}/"' in html and "awaiting approval" in html.replace("_", " ")
    assert "Run a suite" in html
    assert '<a href="/benchmarks/" aria-current="page">Benchmarks</a>' in html  # the nav entry, marked current


def test_quantum_volume_with_few_circuits_is_shown_as_an_indication_not_a_claim(cast):
    from benchmarks.services import benchmark_run_start
    from tests.benchmarks.conftest import run_queued_inline

    run = benchmark_run_start(
        user=cast.alice,
        suite="quantum-volume",
        experiment_id=cast.qlab_experiment.pk,
        backends=["qsim"],
        trials=2,
        shots=200,
    )
    run_queued_inline(run)
    html = signed_in(cast.alice).get(f"/benchmarks/{run.pk}/").content.decode()
    assert "2 circuits per width: the quantum-volume rule needs ≥ 100" in html
    assert html.count("n&lt;100</span>") == 3  # one per width, none claiming a plain pass or fail
    assert 'badge-ok">pass' not in html and 'badge-bad">fail' not in html
