"""OpenQASM 3 gate modifiers cannot make the web process synthesise huge matrices: a power of a wide
custom gate is refused by the pre-parse estimate, a parse has a CPU budget, and the same program with
other comments is not parsed twice."""

from __future__ import annotations

import time
import uuid

import pytest

from adapters import qasm
from adapters.cpu_budget import CpuBudgetExceeded, cpu_budget
from adapters.qasm import MAX_EXPANDED_GATES, QasmError, parse_qasm
from adapters.qasm_modifiers import MAX_POW_QUBITS

HEADER3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def custom_gate_program(n: int, modifier: str = "pow(0.5)", controls: int = 0) -> str:
    """A custom n-qubit gate of a handful of 2-qubit gates, called once under `modifier`."""
    args = ", ".join(f"a{i}" for i in range(n))
    body = " ".join(f"cx a{i}, a{i + 1};" for i in range(n - 1)) + " cz a0, a1;"
    operands = ", ".join(f"q[{i}]" for i in range(n + controls))
    return HEADER3 + f"qubit[{n + controls}] q;\ngate g {args} {{ {body} }}\n{modifier} @ g {operands};\n"


@pytest.mark.parametrize("n", [6, 7, 8])
def test_a_power_of_a_wide_custom_gate_is_refused_within_a_second(n: int) -> None:
    started = time.process_time()
    with pytest.raises(QasmError) as info:
        parse_qasm(custom_gate_program(n), max_qubits=30)
    assert time.process_time() - started < 1.0
    assert info.value.field == "params.qasm" and info.value.line == 5
    assert f"at most {MAX_POW_QUBITS} qubits" in info.value.reason and f"acts on {n}" in info.value.reason


def test_a_power_hidden_behind_nested_brackets_is_still_refused() -> None:
    with pytest.raises(QasmError, match="at most 3 qubits"):
        parse_qasm(custom_gate_program(8, "pow((1) / (2))"), max_qubits=30)


def test_a_power_inside_a_gate_definition_is_refused() -> None:
    text = custom_gate_program(4, "inv") + "gate h2 a, b, c, d { pow(0.5) @ g a, b, c, d; }\n"
    with pytest.raises(QasmError, match="at most 3 qubits"):
        parse_qasm(text, max_qubits=30)


def test_a_power_of_a_small_gate_still_runs() -> None:
    circuit = parse_qasm(custom_gate_program(3), max_qubits=30)
    assert circuit.n_qubits == 3 and len(circuit.ops) > 0


def test_controls_on_a_large_custom_gate_count_towards_the_gate_limit() -> None:
    big = HEADER3 + "qubit[40] q;\ngate g a, b { " + "cx a, b; " * 2000 + "}\n"
    big += "ctrl(30) @ g " + ", ".join(f"q[{i}]" for i in range(32)) + ";\n"
    started = time.process_time()
    with pytest.raises(QasmError, match=f"more than {MAX_EXPANDED_GATES} gates"):
        parse_qasm(big, max_qubits=60)
    assert time.process_time() - started < 1.0


def test_a_few_controls_on_a_custom_gate_still_run() -> None:
    circuit = parse_qasm(custom_gate_program(3, "ctrl(2)", controls=2), max_qubits=30)
    assert circuit.n_qubits == 5


def test_a_parse_over_its_cpu_budget_is_refused_plainly(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(qasm, "PARSE_CPU_SECONDS", 0.01)
    text = HEADER3 + "qubit[3] q;\n" + "".join(f"rz({i}.5) q[{i % 3}];\n" for i in range(3000))
    with pytest.raises(QasmError) as info:
        parse_qasm(text, max_qubits=30)
    assert "more than 0.01 seconds of CPU time" in info.value.reason
    with pytest.raises(QasmError, match="seconds of CPU time"):  # and the refusal is remembered
        parse_qasm("// another comment\n" + text, max_qubits=30)


def test_the_cpu_budget_stops_a_busy_loop_and_leaves_the_thread_usable() -> None:
    started = time.process_time()
    with pytest.raises(CpuBudgetExceeded), cpu_budget(0.2):
        while True:
            pass
    assert time.process_time() - started < 2.0
    with cpu_budget(5.0):
        total = sum(range(1000))
    time.sleep(0.2)  # nothing is delivered late
    assert total == 499500


def test_the_same_program_with_another_comment_answers_at_once() -> None:
    body = "".join(f"rz({i}.25) q[{i % 3}];\n" for i in range(400))
    text = HEADER3 + f"// run {uuid.uuid4()}\nqubit[3] q;\n" + body
    started = time.process_time()
    first = parse_qasm(text, max_qubits=30)
    first_seconds = time.process_time() - started
    started = time.process_time()
    again = parse_qasm(text.replace("// run", "/* another\n comment */ // run again"), max_qubits=30)
    assert again == first
    assert time.process_time() - started < first_seconds / 5
