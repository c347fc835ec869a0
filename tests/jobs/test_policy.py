"""Backend policy: cheapest first, then fastest by run records; noise when asked; breaker fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from adapters import registry
from budgets.errors import BudgetExceeded, Invalid
from jobs.families import get_family
from jobs.models import Job, JobStatus
from jobs.policy import QUEUE_FOR_LATER, REROUTE_TO_SIMULATOR, select_backend
from jobs.services import job_submit
from tests.jobs.orch_support import price


def circuit(family: str = "ghz", **params):
    fam = get_family(family)
    return fam.build(fam.parse(params or {"n_qubits": 20}))


def record(
    cast, backend: str, status: str, *, error_code: str = "", seconds: float | None = None, ago=None, n=20, depth=20
):
    """A finished run record, as the worker leaves it (by default a run of `circuit()`'s shape)."""
    return Job.objects.create(
        team=cast.qlab,
        experiment=cast.qlab_experiment,
        experiment_class=cast.klass,
        submitted_by=cast.alice,
        family="ghz",
        family_version=1,
        shots=1000,
        n_qubits=n,
        backend=backend,
        status=status,
        error_code=error_code,
        result_meta={"execute_seconds": seconds} if seconds is not None else {},
        estimate={"depth": depth},
        finished_at=timezone.now() - (ago or timedelta(seconds=30)),
    )


def test_qsim_runs_a_20_qubit_noiseless_job_under_max_tier_0(db):
    decision = select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=0)

    assert (decision.backend_id, decision.tier, decision.emulated) == ("qsim", 0, False)
    assert decision.reasons[0].startswith("qsim: cheapest tier-0 backend for 20 qubits (free, ~")
    assert decision.cost_micros == 0
    assert decision.skipped["qsim-noisy"] == "tier 2 is above max_tier=0"


def test_cheapest_stays_noiseless_at_tier_2_when_the_family_does_not_ask_for_noise(db):
    decision = select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=2)
    assert decision.tier == 0


def test_a_noise_benchmark_at_max_tier_2_gets_a_noisy_backend(db):
    decision = select_backend(circuit=circuit(), family="mirror", shots=1000, max_tier=2, prefers_noise=True)

    caps = registry.capabilities(decision.backend_id)
    assert decision.tier == 2 and caps.noise
    assert "cheapest noisy tier-2 backend for 20 qubits" in decision.reasons[0]
    assert "qsim skipped: max_tier=2 asks for noise" in decision.reasons


def test_submitting_a_noise_family_with_max_tier_2_runs_noisy(cast):
    body = {"experiment": cast.qlab_experiment.pk, "family": "random", "params": get_family("random").example}
    job = job_submit(user=cast.alice, request={**body, "max_tier": 2}).job
    assert job.tier == 2 and registry.capabilities(job.backend).noise
    assert any("asks for noise" in reason for reason in job.policy_reasons)


def test_open_circuit_breaker_falls_back_down_the_ladder(cast):
    for _ in range(6):
        record(cast, "qsim", JobStatus.FAILED, error_code="backend_transient")
    for _ in range(4):
        record(cast, "qsim", JobStatus.SUCCEEDED, seconds=0.01)

    decision = select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=0)

    assert decision.backend_id != "qsim" and decision.tier == 0
    assert "qsim skipped: failing: 6 of its last 10 jobs failed in 15 minutes" in decision.reasons


def test_breaker_stays_closed_for_old_failures_and_for_the_users_own_mistakes(cast):
    for _ in range(6):
        record(cast, "qsim", JobStatus.FAILED, error_code="backend_error", ago=timedelta(hours=1))
        record(cast, "qsim", JobStatus.FAILED, error_code="capacity")
    assert select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=0).backend_id == "qsim"


def test_among_equally_cheap_backends_the_fastest_by_run_records_wins(cast):
    for _ in range(3):
        record(cast, "qsim", JobStatus.SUCCEEDED, seconds=5.0)
        record(cast, "aer", JobStatus.SUCCEEDED, seconds=0.02)

    decision = select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=0)

    assert decision.backend_id == "aer"
    assert decision.reasons[0].endswith("~0.02 s, from 3 runs of this shape)")


def test_price_override_makes_the_policy_prefer_a_free_backend(db):
    price("qsim", "0.10")
    decision = select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=0)
    assert decision.backend_id != "qsim" and decision.cost_micros == 0


def test_when_only_the_budget_stands_in_the_way_it_says_so(db):
    for backend in ("qsim", "cirq", "aer"):
        price(backend, "1.00")
    with pytest.raises(BudgetExceeded):
        select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=0, budget_remaining_micros=500_000)


def test_too_wide_for_every_backend_in_the_tier_names_max_tier(db):
    with pytest.raises(Invalid) as err:
        select_backend(circuit=circuit(n_qubits=40), family="ghz", shots=1000, max_tier=0)
    assert err.value.field == "max_tier" and "40 qubits exceed" in err.value.message
    # One tier up, the scaled simulators take it.
    assert select_backend(circuit=circuit(n_qubits=40), family="ghz", shots=1000, max_tier=1).tier == 1


def test_pin_above_max_tier_is_refused(db):
    with pytest.raises(Invalid) as err:
        select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=1, backend_pin="ibm:fake_torino")
    assert err.value.field == "backend" and "above max_tier=1" in err.value.message


def test_unknown_pin_lists_the_valid_backends(db):
    with pytest.raises(Invalid) as err:
        select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=3, backend_pin="qpu-9000")
    assert err.value.field == "backend" and "qsim" in err.value.message


def test_stabilizer_pin_is_honoured_for_clifford_circuits_only(db):
    ok = select_backend(circuit=circuit(), family="ghz", shots=1000, max_tier=1, backend_pin="aer-stabilizer")
    assert ok.backend_id == "aer-stabilizer" and ok.reasons[0].startswith("aer-stabilizer: pinned")
    qft = circuit("qft", n_qubits=4, input="0101", roundtrip=True)
    with pytest.raises(Invalid) as err:
        select_backend(circuit=qft, family="qft", shots=1000, max_tier=1, backend_pin="aer-stabilizer")
    assert err.value.field == "backend"


def test_pinned_failing_backend_queues_for_later_and_offers_a_simulator(cast):
    for _ in range(5):
        record(cast, "ibm:fake_manila", JobStatus.FAILED, error_code="backend_error", n=3)

    decision = select_backend(
        circuit=circuit(n_qubits=3), family="ghz", shots=100, max_tier=3, backend_pin="ibm:fake_manila"
    )

    assert decision.backend_id == "ibm:fake_manila" and decision.failover == QUEUE_FOR_LATER
    actions = {a["action"]: a for a in decision.alternatives}
    assert actions[REROUTE_TO_SIMULATOR]["backend"] == "qsim"
    assert decision.estimate["failover"]["choice"] == QUEUE_FOR_LATER
    assert "queue for later" in decision.reasons[-1]


def test_hardware_is_emulated_and_priced(db):
    decision = select_backend(
        circuit=circuit(n_qubits=3), family="ghz", shots=100, max_tier=3, backend_pin="ibm:fake_manila"
    )
    assert decision.tier == 3 and decision.emulated and decision.cost_micros > 0


def test_a_job_pinned_to_failing_hardware_records_its_failover_choice(cast):
    for _ in range(5):
        record(cast, "ibm:fake_manila", JobStatus.FAILED, error_code="backend_error", n=3)
    body = {"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": 3}, "shots": 100}

    job = job_submit(user=cast.alice, request={**body, "backend": "ibm:fake_manila", "max_tier": 3}).job

    assert job.backend == "ibm:fake_manila" and job.status == JobStatus.AWAITING_APPROVAL  # hardware: sign-off
    assert job.estimate["failover"]["choice"] == QUEUE_FOR_LATER
    assert {"action": REROUTE_TO_SIMULATOR, "backend": "qsim", "cost_micros": 0} in job.estimate["failover"][
        "alternatives"
    ]
    assert "queue for later" in job.events.get(to_status=JobStatus.AWAITING_APPROVAL).reason
