"""`run_suite … --inline` on a real database with real simulators: the comparison a user reads."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from benchmarks import selectors
from benchmarks.models import BenchmarkRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _run(*args: str) -> tuple[BenchmarkRun, str, str]:
    out, err = StringIO(), StringIO()
    call_command("run_suite", *args, stdout=out, stderr=err)
    return BenchmarkRun.objects.latest("created_at"), out.getvalue(), err.getvalue()


def test_ghz_ladder_inline_shows_ideal_near_one_and_noisy_lower_with_intervals(cast):
    run, out, err = _run(
        "ghz-ladder",
        "--team",
        "qlab",
        "--user",
        "alice",
        "--backends",
        "qsim,qsim-noisy",
        "--trials",
        "3",
        "--shots",
        "500",
        "--inline",
        "--seed",
        "11",
    )
    data = selectors.comparison(run)
    assert data["progress"]["status"] == "succeeded" and data["progress"]["total"] == 18
    assert data["reference"] == "qsim"
    for problem in data["problems"]:
        rows = {r["backend"]: r for r in problem["rows"]}
        ideal, noisy = rows["qsim"], rows["qsim-noisy"]
        assert ideal["n"] == noisy["n"] == 3
        assert ideal["fidelity"]["estimate"] > 0.99
        assert noisy["fidelity"]["estimate"] < ideal["fidelity"]["estimate"]
        assert noisy["fidelity"]["low"] <= noisy["fidelity"]["estimate"] <= noisy["fidelity"]["high"]
        assert ideal["floor"] > 0.99  # a perfect sampler of a 2-outcome state scores ~1 with 500 shots
        assert ideal["success_rate"]["estimate"] == 1.0 and ideal["success_rate"]["low"] < 1.0
        assert ideal["pinned"]["sdk_versions"]["qsimcirq"] and ideal["pinned"]["precision"] == "complex64"
        assert ideal["pinned"]["threads"] and noisy["pinned"]["noise"].startswith("depolarize")
    ghz8 = next(p for p in data["problems"] if p["key"] == "ghz-8")
    (gap,) = ghz8["differences"]
    assert gap["backend"] == "qsim-noisy" and gap["estimate"] < 0 and gap["significant"] is True
    assert "run " in err and "18/18" in err  # the progress bar reached the end
    assert "ghz-8" in out and "qsim-noisy" in out and "reference" in out


def test_two_ideal_simulators_differ_not_significantly_and_the_table_says_so(cast):
    run, out, _ = _run(
        "ghz-ladder",
        "--team",
        "qlab",
        "--user",
        "alice",
        "--backends",
        "qsim,cirq",
        "--trials",
        "3",
        "--shots",
        "500",
        "--inline",
        "--seed",
        "5",
    )
    data = selectors.comparison(run)
    differences = [d for p in data["problems"] for d in p["differences"]]
    assert len(differences) == 3
    assert all(d["backend"] == "cirq" and d["significant"] is False for d in differences)
    assert "n.s." in out


def test_inline_run_with_hardware_trials_says_they_await_approval_instead_of_hanging(cast):
    run, out, _ = _run(
        "ghz-ladder",
        "--team",
        "qlab",
        "--user",
        "alice",
        "--backends",
        "qsim,ibm:fake_manila",
        "--trials",
        "1",
        "--shots",
        "200",
        "--inline",
        "--timeout",
        "120",
    )
    progress = selectors.run_progress(run)
    assert progress["status"] == "awaiting_approval" and progress["awaiting_approval"] == 2
    assert "2 job(s) await an approver's sign-off" in out
    assert "ibm:fake_manila (emulated)" in out and "skipped: needs 8 qubits" in out


def test_no_wait_starts_the_run_and_leaves_the_jobs_to_the_workers(cast):
    run, out, _ = _run(
        "bv",
        "--experiment",
        str(cast.qlab_experiment.pk),
        "--user",
        "alice",
        "--backends",
        "qsim",
        "--trials",
        "1",
        "--no-wait",
    )
    assert f"follow it at /benchmarks/{run.pk}/" in out
    assert selectors.run_progress(run)["by_status"] == {"queued": 3}


def test_without_workers_the_command_stops_at_its_timeout_and_says_what_waits(cast):
    run, out, err = _run(
        "bv",
        "--team",
        "qlab",
        "--user",
        "alice",
        "--backends",
        "qsim",
        "--trials",
        "1",
        "--timeout",
        "1",
    )
    assert selectors.run_progress(run)["by_status"] == {"queued": 3}
    assert "3 simulator job(s) are queued for the batch workers" in out
    assert f"stopped waiting after the timeout; the run goes on — see /benchmarks/{run.pk}/" in out
