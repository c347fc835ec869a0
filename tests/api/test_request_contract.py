"""The job contract at the API's edge: what a request may say, how strictly it is typed, what a
replay compares, and that an expensive program is refused before it costs anything."""

from __future__ import annotations

import time

import pytest

from adapters.qasm_modifiers import MAX_POW_QUBITS
from tests.adapters.test_qasm_modifiers import custom_gate_program
from tests.api.conftest import ghz_body


@pytest.mark.parametrize("n", [6, 7, 8])
def test_the_quote_endpoint_refuses_a_power_of_a_wide_gate_within_a_second(alice, cast, n: int) -> None:
    body = ghz_body(cast.qlab_experiment, family="openqasm", params={"qasm": custom_gate_program(n)})
    assert alice.post("/jobs/quote", ghz_body(cast.qlab_experiment)).status == 200  # the process is warm
    started = time.perf_counter()
    reply = alice.post("/jobs/quote", body)
    assert time.perf_counter() - started < 1.0
    assert reply.status == 422 and reply.body["field"] == "params.qasm"
    assert "pow" in reply.body["message"] and f"{MAX_POW_QUBITS} qubits" in reply.body["message"]
