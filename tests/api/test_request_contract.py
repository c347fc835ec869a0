"""The job contract at the API's edge: what a request may say, how strictly it is typed, what a
replay compares, and that an expensive program is refused before it costs anything."""

from __future__ import annotations

import time
import uuid

import pytest

from adapters.qasm_modifiers import MAX_POW_QUBITS
from budgets.models import Hold
from jobs.models import Job
from tests.adapters.test_qasm_modifiers import custom_gate_program
from tests.api.conftest import ghz_body
from tests.factories import make_budget, make_class


@pytest.mark.parametrize("n", [6, 7, 8])
def test_the_quote_endpoint_refuses_a_power_of_a_wide_gate_within_a_second(alice, cast, n: int) -> None:
    body = ghz_body(cast.qlab_experiment, family="openqasm", params={"qasm": custom_gate_program(n)})
    assert alice.post("/jobs/quote", ghz_body(cast.qlab_experiment)).status == 200  # the process is warm
    started = time.perf_counter()
    reply = alice.post("/jobs/quote", body)
    assert time.perf_counter() - started < 1.0
    assert reply.status == 422 and reply.body["field"] == "params.qasm"
    assert "pow" in reply.body["message"] and f"{MAX_POW_QUBITS} qubits" in reply.body["message"]


# --- the experiment's class pays ----------------------------------------------------------------------
@pytest.fixture
def lax_class(cast):  # noqa: ANN001, ANN201
    """A second class of qlab's whose budget waves through far more before anyone signs off."""
    klass = make_class("exploration")
    make_budget(cast.qlab, klass, limit="10000.00", threshold="5000.00")
    return klass


def _post(api, route: str, body: dict):  # noqa: ANN001, ANN202
    if route == "/jobs/batch":
        return api.post(route, {"jobs": [body]}, headers={"Idempotency-Key": str(uuid.uuid4())})
    return api.post(route, body, headers={"Idempotency-Key": str(uuid.uuid4())})


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ("/jobs", "experiment_class"),
        ("/jobs/batch", "jobs[0].experiment_class"),
        ("/jobs/quote", "experiment_class"),
    ],
)
def test_a_request_cannot_bill_another_budget_of_the_team(alice, cast, lax_class, route, field):
    body = ghz_body(cast.qlab_experiment, max_tier=3, backend="ibm:fake_manila", experiment_class=lax_class.slug)
    reply = _post(alice, route, body)
    assert reply.status == 422, reply.body
    assert reply.body["field"] == field
    assert cast.klass.slug in reply.body["message"]
    assert Job.objects.count() == 0 and Hold.objects.count() == 0


@pytest.mark.parametrize("route", ["/jobs", "/jobs/batch"])
def test_restating_the_experiments_class_bills_that_class(alice, cast, lax_class, route):
    reply = _post(alice, route, ghz_body(cast.qlab_experiment, experiment_class=cast.klass.slug))
    assert reply.status == 201, reply.body
    assert Job.objects.get().experiment_class == cast.klass


def test_a_request_without_a_class_bills_the_experiments_class(alice, cast, lax_class):
    reply = _post(alice, "/jobs", ghz_body(cast.qlab_experiment))
    assert reply.status == 201 and Job.objects.get().experiment_class == cast.klass


# --- strict types ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"shots": "100"}, "shots", "shots must be a whole number."),
        ({"shots": True}, "shots", "shots must be a whole number."),
        ({"max_tier": "0"}, "max_tier", "max_tier must be a whole number."),
        ({"experiment": "1"}, "experiment", "experiment must be a whole number."),
        ({"no_cache": "true"}, "no_cache", "no_cache must be true or false."),
        ({"no_cache": 1}, "no_cache", "no_cache must be true or false."),
        ({"schema_version": True}, "schema_version", "schema_version must be 1."),
        ({"params": {"n_qubits": "3"}}, "params.n_qubits", "params.n_qubits must be a whole number."),
        ({"params": {"n_qubits": True}}, "params.n_qubits", "params.n_qubits must be a whole number."),
    ],
)
def test_numbers_and_booleans_must_have_their_json_type(alice, cast, change, field, message):
    reply = _post(alice, "/jobs", {**ghz_body(cast.qlab_experiment), **change})
    assert reply.status == 422, reply.body
    assert (reply.body["field"], reply.body["message"]) == (field, message)
    assert Job.objects.count() == 0


def test_a_batch_item_and_an_approval_are_strictly_typed_too(alice, cast):
    reply = _post(alice, "/jobs/batch", ghz_body(cast.qlab_experiment, shots="100"))
    assert (reply.status, reply.body["field"]) == (422, "jobs[0].shots")
    reply = alice.post(f"/approvals/{uuid.uuid4()}/approve", {"shots": "10"})
    assert (reply.status, reply.body["field"], reply.body["message"]) == (422, "shots", "shots must be a whole number.")


def test_a_whole_number_may_be_written_as_json_does(alice, cast):
    reply = _post(alice, "/jobs", ghz_body(cast.qlab_experiment, shots=200.0))
    assert reply.status == 201 and reply.body["shots"] == 200
    reply = _post(alice, "/jobs", ghz_body(cast.qlab_experiment, shots=200.5))
    assert (reply.status, reply.body["message"]) == (422, "shots must be a whole number.")


def test_a_budget_ceiling_may_be_a_decimal_string_or_a_number(alice, cast):
    for ceiling in ("12.50", 12.5):
        reply = alice.post("/jobs/quote", ghz_body(cast.qlab_experiment, budget_ceiling=ceiling))
        assert reply.status == 200, reply.body


# --- idempotent replays compare the contract, not the text -------------------------------------------
def test_a_replay_with_defaults_spelled_out_is_the_same_request(alice, cast):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = alice.post("/jobs", ghz_body(cast.qlab_experiment, budget_ceiling="5.5"), headers=key)
    spelled_out = ghz_body(
        cast.qlab_experiment,
        budget_ceiling="5.50",
        max_tier=0,
        priority="interactive",
        objective="sample",
        no_cache=False,
        labels=[],
        schema_version=1,
        family_version=1,
        experiment_class=cast.klass.slug,
    )
    again = alice.post("/jobs", spelled_out, headers=key)
    assert first.status == 201 and again.status == 201, again.body
    assert again.headers["Idempotent-Replayed"] == "true" and again.body["id"] == first.body["id"]
    assert Job.objects.count() == 1


def test_a_replay_that_asks_for_something_else_is_still_refused(alice, cast):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert alice.post("/jobs", ghz_body(cast.qlab_experiment), headers=key).status == 201
    again = alice.post("/jobs", ghz_body(cast.qlab_experiment, max_tier=1), headers=key)
    assert (again.status, again.body["code"]) == (422, "idempotency_mismatch")


def test_a_batch_replay_with_defaults_spelled_out_is_the_same_request(alice, cast):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = alice.post("/jobs/batch", {"jobs": [ghz_body(cast.qlab_experiment)]}, headers=key)
    again = alice.post("/jobs/batch", {"jobs": [ghz_body(cast.qlab_experiment, max_tier=0)]}, headers=key)
    assert first.status == 201 and again.status == 201 and again.headers["Idempotent-Replayed"] == "true"


# --- one wording for every refusal ------------------------------------------------------------------
def test_every_bad_field_is_reported_together_in_plain_words(alice, cast):
    params = {"n_nodes": 3, "edges": [[0, 1], [1, 2]], "p": 2, "gammas": [0.1], "betas": [0.2]}
    reply = _post(alice, "/jobs", ghz_body(cast.qlab_experiment, family="qaoa_maxcut", params=params))
    assert reply.status == 422
    assert [(e["field"], e["message"]) for e in reply.body["detail"]] == [
        ("params.gammas", "params.gammas must have exactly 2 angles, one per layer (p = 2); it has 1."),
        ("params.betas", "params.betas must have exactly 2 angles, one per layer (p = 2); it has 1."),
    ]
    assert reply.body["field"] == "params.gammas"
    assert "params.gammas" in reply.body["message"] and "params.betas" in reply.body["message"]


def test_envelope_errors_are_all_reported_in_one_wording(alice, cast):
    reply = _post(alice, "/jobs", ghz_body(cast.qlab_experiment, shots=0, max_tier=9, budget_ceiling="-1"))
    assert reply.status == 422
    assert {e["field"]: e["message"] for e in reply.body["detail"]} == {
        "shots": "shots must be at least 1.",
        "max_tier": "max_tier must be at most 3.",
        "budget_ceiling": "budget_ceiling must be at least USD 0.00.",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"shots": 0},
        {"shots": "x"},
        {"max_tier": 9},
        {"priority": "urgent"},
        {"labels": ["has space"]},
        {"colour": "blue"},
        {"budget_ceiling": "1.1234567"},
        {"family": "qaoa_maxcut", "params": {"n_nodes": 3, "edges": [[0, 0]], "p": 2, "gammas": [1], "betas": []}},
    ],
)
def test_no_refusal_speaks_in_a_librarys_words(alice, cast, change):
    reply = _post(alice, "/jobs", ghz_body(cast.qlab_experiment, **change))
    assert reply.status == 422
    texts = [reply.body["message"], *(e["message"] for e in reply.body["detail"] or [])]
    for text in texts:
        assert not any(phrase in text for phrase in ("Input should", "Ensure this", "Value error", "micros"))
        assert text.endswith(".") and text.split(" ")[0].split(".")[0].split("[")[0] in reply.body["message"]
