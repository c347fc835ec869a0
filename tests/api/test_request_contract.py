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
