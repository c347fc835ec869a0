"""Quotes learn each backend's execute time from its stored runs, and say where the number came from."""

from __future__ import annotations

import statistics

from django.urls import reverse

from budgets.money import format_money
from jobs import tasks
from jobs.estimates import estimate_vs_actual
from jobs.families import get_family
from jobs.models import Job, JobStatus
from jobs.policy import select_backend
from jobs.services import job_quote, job_submit
from tests.factories import make_job
from tests.jobs.test_policy import record

FORMULA = "from the backend's formula"


def random_job(cast, backend: str, seed: int) -> dict:
    """A 14-qubit, depth-10 random circuit pinned to `backend` (a different circuit per seed, one shape)."""
    params = {"n_qubits": 14, "depth": 10, "seed": seed}
    return {"experiment": cast.qlab_experiment.pk, "family": "random", "params": params, "shots": 200,
            "backend": backend, "no_cache": True}  # fmt: skip


def run(cast, backend: str, seed: int) -> Job:
    """Submitted, then run by the worker's task in this process, on the real simulator."""
    job = job_submit(user=cast.alice, request=random_job(cast, backend, seed)).job
    tasks.run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


def test_after_a_few_runs_of_a_shape_the_quote_is_within_2x_of_what_it_takes(cast):
    for backend in ("aer", "cirq"):
        before = job_quote(user=cast.alice, request=random_job(cast, backend, seed=99))
        assert before.estimate["seconds_source"] == FORMULA

        for seed in range(3):
            run(cast, backend, seed)
        quote = job_quote(user=cast.alice, request=random_job(cast, backend, seed=99))
        # Each job stores the quote it was submitted with, learnt from the runs before it.
        checked = [run(cast, backend, seed) for seed in (10, 11, 12)]

        assert quote.estimate["seconds_source"] == "from 3 runs of this shape"
        sources = [job.estimate["seconds_source"] for job in checked]
        assert sources == [f"from {n} runs of this shape" for n in (3, 4, 5)]
        assert checked[0].estimate["seconds"] == quote.seconds
        pairs = [(job.estimate["seconds"], job.result_meta["execute_seconds"]) for job in checked]
        assert 0.5 <= statistics.median(took / quoted for quoted, took in pairs) <= 2, (backend, pairs)


def test_the_job_stores_the_shape_its_run_teaches_the_estimates(cast):
    job = run(cast, "cirq", seed=1)
    assert job.estimate["depth"] == 20  # ten layers of one-qubit gates and of two-qubit pairs
    assert job.n_qubits == 14 and job.shots == 200


def ghz(n: int):
    fam = get_family("ghz")
    return fam.build(fam.parse({"n_qubits": n}))


def test_between_the_widths_it_ran_the_quote_follows_a_curve_fitted_to_the_runs(cast):
    for n in (10, 12, 14, 16):  # a statevector's time doubles per qubit
        for _ in range(2):
            record(cast, "aer", JobStatus.SUCCEEDED, seconds=0.01 * 2 ** (n - 10), n=n, depth=n)

    between = select_backend(circuit=ghz(13), family="ghz", shots=1000, max_tier=0, backend_pin="aer")
    beyond = select_backend(circuit=ghz(22), family="ghz", shots=1000, max_tier=0, backend_pin="aer")

    assert between.estimate["seconds_source"] == "from a curve fitted to 8 runs of this backend"
    assert 0.06 <= between.seconds <= 0.1  # 0.08 s
    assert beyond.estimate["seconds_source"] == FORMULA  # no run this wide: the formula, not an extrapolation


def test_the_fastest_backend_is_judged_by_the_runs_of_this_shape(cast):
    for _ in range(3):
        record(cast, "qsim", JobStatus.SUCCEEDED, seconds=2.0)
        record(cast, "cirq", JobStatus.SUCCEEDED, seconds=0.01)
        record(cast, "aer", JobStatus.SUCCEEDED, seconds=0.5)
        record(cast, "qsim", JobStatus.SUCCEEDED, seconds=0.001, n=8, depth=8)  # other shapes say nothing

    decision = select_backend(circuit=ghz(20), family="ghz", shots=1000, max_tier=0)

    assert decision.backend_id == "cirq"
    assert decision.reasons[0].endswith("~0.01 s, from 3 runs of this shape)")


def test_a_highly_entangled_circuit_is_quoted_conservatively_on_the_mps_simulator(db):
    fam = get_family("random")
    entangled = fam.build(fam.parse({"n_qubits": 18, "depth": 10, "seed": 5}))  # took 89–97 s on aer-mps

    decision = select_backend(circuit=entangled, family="random", shots=1000, max_tier=1, backend_pin="aer-mps")

    assert decision.seconds >= 60 and decision.estimate["seconds_source"] == FORMULA
    assert f"~{decision.seconds:.0f} s, from the backend's formula" in decision.reasons[0]


def test_a_weakly_entangled_wide_circuit_stays_cheap_on_the_mps_simulator(db):
    decision = select_backend(circuit=ghz(60), family="ghz", shots=1000, max_tier=1, backend_pin="aer-mps")
    assert decision.seconds < 1


def test_the_job_page_shows_the_estimate_beside_what_the_run_took_and_cost(cast, client):
    job = run(cast, "cirq", seed=1)
    client.force_login(cast.alice)

    html = client.get(reverse("job_detail", args=[job.pk])).content.decode()

    check = estimate_vs_actual(job)
    block = html.split('id="h-estimate-actual"')[1].split("</section>")[0]
    assert "Estimate vs actual" in block and "Execute time" in block and "Cost" in block
    assert check["estimated_time"] in block and check["actual_time"] in block
    assert f"Execution took {check['time_verdict']}." in block
    assert "The estimate came from the backend&#x27;s formula." in block
    assert block.count(format_money(0)) == 2  # estimated and actual cost of a free simulator


def test_a_job_that_has_not_run_shows_no_comparison(cast, client):
    job = job_submit(user=cast.alice, request=random_job(cast, "cirq", seed=1)).job
    client.force_login(cast.alice)
    html = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "Estimate vs actual" not in html


def test_the_job_page_says_how_far_off_a_paid_estimate_was(cast, client):
    job = make_job(cast.qlab_experiment, cast.alice, family="random", backend="aer-mps", tier=1,
                   status=JobStatus.SUCCEEDED, n_qubits=18, cost_micros=2_500_000,
                   estimate={"seconds": 0.19, "seconds_source": FORMULA, "cost_micros": 10_000},
                   result_meta={"execute_seconds": 93.0})  # fmt: skip
    client.force_login(cast.alice)

    html = client.get(reverse("job_detail", args=[job.pk])).content.decode()

    block = html.split('id="h-estimate-actual"')[1].split("</section>")[0]
    assert "190 ms" in block and "1 min 33 s" in block
    assert format_money(10_000) in block and format_money(2_500_000) in block
    assert "Execution took 489× longer than estimated." in block
