"""OpenQASM in and out: round trips keep the unitary; hostile or unsupported programs are refused
fast, naming params.qasm and the line."""

from __future__ import annotations

import math
import time

import pytest
import qiskit.qasm2
import qiskit.qasm3
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator

from adapters.convert import to_qiskit
from adapters.ir import GATES, Circuit, IRError, Op
from adapters.qasm import (
    MAX_EXPANDED_GATES,
    MAX_GATE_DEFINITIONS,
    MAX_NESTING,
    MAX_QASM_BYTES,
    MAX_QASM_QUBITS,
    QasmError,
    check_limits,
    parse_qasm,
    to_qasm2,
    to_qasm3,
)

HEADER2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
HEADER3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'

QASM2_PROGRAMS = {
    "bell": HEADER2 + "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n",
    "custom gate and legacy gates": HEADER2
    + "gate entangle(theta) a, b { ry(theta) a; cx a, b; u2(0, pi) b; }\n"
    + "qreg q[3];\nentangle(0.7) q[0], q[2];\ncu3(0.1, 0.2, 0.3) q[2], q[1];\nccx q[0], q[1], q[2];\n"
    + "rzz(1.3) q[0], q[1];\nu1(pi/8) q[2];\nswap q[0], q[2];\n",
    "broadcast over registers": HEADER2 + "qreg a[2];\nqreg b[2];\nh a;\ncx a, b;\nrx(-pi/3) b;\n",
    "comments and blank lines": '// leading comment\nOPENQASM 2.0;\ninclude "qelib1.inc"; // the standard gates\n\n'
    + "qreg q[2]; // two qubits\n\nsx q[0];\nsxdg q[1];\ncy q[1], q[0];\n",
}
QASM3_PROGRAMS = {
    "bell": HEADER3 + "qubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n",
    "modifiers and custom gate": HEADER3
    + "gate spin(t) a, b { rx(t) a; cz a, b; }\nqubit[3] q;\nspin(0.4) q[1], q[2];\n"
    + "ctrl @ x q[0], q[2];\ninv @ t q[1];\npow(2) @ s q[0];\n/* a block\n comment */\nry(pi / 5) q[2];\n",
    "no header, single qubits": 'include "stdgates.inc";\nqubit a;\nqubit b;\nh a;\ncrz(0.25) a, b;\np(-1.5) b;\n',
}


def load2(text: str) -> QuantumCircuit:
    # qiskit writes qelib1 as it extends it (p, sxdg, rzz…): read it back the same way.
    return qiskit.qasm2.loads(text, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)


def unitary_of(qc: QuantumCircuit) -> Operator:
    return Operator(qc.remove_final_measurements(inplace=False))


def same_unitary(a: QuantumCircuit, b: QuantumCircuit) -> bool:
    return unitary_of(a).equiv(unitary_of(b))


def refused(text: str, **kwargs: int) -> tuple[QasmError, float]:
    started = time.perf_counter()
    with pytest.raises(QasmError) as info:
        parse_qasm(text, **kwargs)
    return info.value, time.perf_counter() - started


# --- round trips -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(QASM2_PROGRAMS))
def test_qasm2_to_ir_to_qasm2_keeps_the_unitary(name: str) -> None:
    text = QASM2_PROGRAMS[name]
    original = load2(text)
    circuit = parse_qasm(text)
    assert same_unitary(original, load2(to_qasm2(circuit)))
    assert parse_qasm(to_qasm2(circuit)).n_qubits == circuit.n_qubits


@pytest.mark.parametrize("name", sorted(QASM3_PROGRAMS))
def test_qasm3_to_ir_to_qasm3_keeps_the_unitary(name: str) -> None:
    text = QASM3_PROGRAMS[name]
    original = qiskit.qasm3.loads(text)
    circuit = parse_qasm(text)
    assert same_unitary(original, qiskit.qasm3.loads(to_qasm3(circuit)))
    assert same_unitary(original, load2(to_qasm2(circuit)))


def test_measurements_keep_their_order_and_unmeasured_qubits_are_not_measured() -> None:
    text = HEADER2 + "qreg q[3];\ncreg c[2];\nx q[2];\nmeasure q[2] -> c[0];\nmeasure q[0] -> c[1];\n"
    circuit = parse_qasm(text)
    assert circuit.measured == (2, 0)


def test_a_program_without_measurements_measures_every_qubit() -> None:
    assert parse_qasm(HEADER2 + "qreg q[3];\nh q[1];\n").measured == (0, 1, 2)


angles = st.floats(min_value=-math.pi, max_value=math.pi, allow_nan=False, allow_infinity=False)


@st.composite
def ir_circuits(draw: st.DrawFn) -> Circuit:
    n = draw(st.integers(min_value=1, max_value=4))
    usable = sorted(g for g, (arity, _) in GATES.items() if 0 < arity <= n)
    ops = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        gate = draw(st.sampled_from(usable))
        arity, n_params = GATES[gate]
        qubits = draw(st.permutations(range(n)))[:arity]
        ops.append(Op(gate, tuple(qubits), tuple(draw(angles) for _ in range(n_params))))
    return Circuit(n, tuple(ops))


@settings(max_examples=30, deadline=None)
@given(ir_circuits())
def test_ir_to_qasm2_and_back_keeps_the_unitary(circuit: Circuit) -> None:
    again = parse_qasm(to_qasm2(circuit))
    assert again.n_qubits == circuit.n_qubits
    assert same_unitary(to_qiskit(circuit, measure=False), to_qiskit(again, measure=False))


# --- limits and refusals -----------------------------------------------------------------------
def test_ten_megabyte_program_is_refused_fast_by_size() -> None:
    err, seconds = refused(HEADER2 + "qreg q[1];\n" + "x q[0];\n" * (10 * 1024 * 1024 // 8))
    assert err.field == "params.qasm"
    assert f"{MAX_QASM_BYTES} bytes" in str(err)
    assert seconds < 0.5


@pytest.mark.parametrize(
    "text",
    [HEADER2 + "qreg q[1000];\nh q[0];\n", HEADER3 + "qubit[1000] q;\nh q[0];\n", HEADER3 + "h $999;\n"],
    ids=["qasm2 qreg", "qasm3 qubit", "qasm3 physical"],
)
def test_a_thousand_qubits_are_refused_before_parsing(text: str) -> None:
    err, seconds = refused(text, max_qubits=30)
    assert "at most 30" in str(err)
    assert err.line is not None
    assert seconds < 0.5


def test_a_thousand_qubits_are_refused_even_when_a_backend_could_take_them() -> None:
    err, seconds = refused(HEADER2 + "qreg q[1000];\n", max_qubits=5000)
    assert "1000 qubits" in str(err) and f"at most {MAX_QASM_QUBITS}" in str(err)
    assert seconds < 0.5


def test_qubits_across_several_registers_add_up_to_the_limit() -> None:
    err, _ = refused(HEADER2 + "qreg a[20];\nqreg b[20];\n", max_qubits=30)
    assert "40 qubits" in str(err)
    assert err.line == 4


def test_ten_thousand_nested_parentheses_are_refused_fast() -> None:
    text = HEADER2 + "qreg q[1];\nrz(" + "(" * 10_000 + "1" + ")" * 10_000 + ") q[0];\n"
    err, seconds = refused(text)
    assert f"nested deeper than {MAX_NESTING}" in str(err)
    assert err.line == 4
    assert seconds < 0.5


def test_a_very_long_expression_is_refused_instead_of_overflowing_the_parser() -> None:
    err, seconds = refused(HEADER3 + "qubit[1] q;\nrz(" + "+".join(["0.001"] * 5000) + ") q[0];\n")
    assert "operators" in str(err)
    assert seconds < 0.5


def test_exponential_gate_definitions_are_refused_before_expansion() -> None:
    """Eleven nested gates that each call the previous one ten times: 10¹² gates from 1 KB of text."""
    gates = "gate g0 a { x a; }\n" + "".join(f"gate g{i} a {{ {f'g{i - 1} a; ' * 10}}}\n" for i in range(1, 12))
    err, seconds = refused(HEADER2 + gates + "qreg q[1];\ng11 q[0];\n")
    assert f"more than {MAX_EXPANDED_GATES} gates" in str(err)
    assert seconds < 0.5


def test_a_long_chain_of_gate_definitions_is_refused_before_it_overflows_the_parser() -> None:
    chain = "gate g0 a { x a; }\n" + "".join(f"gate g{i} a {{ g{i - 1} a; }}\n" for i in range(1, 5000))
    err, seconds = refused(HEADER2 + chain + "qreg q[1];\ng4999 q[0];\n")
    assert f"nest deeper than {MAX_NESTING}" in str(err)
    assert seconds < 0.5


def test_thousands_of_gate_definitions_are_refused() -> None:
    defs = "".join(f"gate g{i} a {{ x a; }}\n" for i in range(MAX_GATE_DEFINITIONS + 1))
    err, seconds = refused(HEADER2 + defs + "qreg q[1];\n")
    assert f"more than {MAX_GATE_DEFINITIONS} gate definitions" in str(err)
    assert seconds < 0.5


def test_register_broadcasts_count_towards_the_gate_limit() -> None:
    """A few bytes of `h q;` on a wide register ask for width × repeats gates."""
    err, seconds = refused(HEADER2 + "qreg q[100];\n" + "h q;\n" * (MAX_EXPANDED_GATES // 100 + 1))
    assert f"more than {MAX_EXPANDED_GATES} gates" in str(err)
    assert seconds < 0.5


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../secrets.inc", "qelib1.inc/../../etc/passwd", "https://example.org/x.inc"]
)
def test_include_of_a_file_path_is_refused(path: str) -> None:
    err, seconds = refused(f'OPENQASM 2.0;\ninclude "{path}";\nqreg q[1];\n')
    assert path in str(err)
    assert '"qelib1.inc"' in str(err)
    assert err.line == 2
    assert seconds < 0.5


def test_an_include_hidden_in_a_comment_is_ignored() -> None:
    text = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n/* include "/etc/passwd"; */\n// opaque x;\nqubit q;\nh q;\n'
    assert parse_qasm(text).n_qubits == 1


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("opaque secret a;\n", "opaque"),
        ("extern int f(int);\n", "extern"),
        ("defcal x $0 { }\n", "defcal"),
        ("cal { }\n", "cal"),
        ("def f(qubit a) { h a; }\n", "def"),
        ("for int i in [0:2] { h q[0]; }\n", "for"),
        ("reset q[0];\n", "reset"),
    ],
)
def test_unsupported_constructs_are_refused_by_name(body: str, word: str) -> None:
    err, _ = refused(HEADER3 + "qubit[2] q;\n" + body)
    assert f"({word})" in str(err) or str(err).split(": ", 2)[-1].startswith(word)
    assert err.line == 4


def test_mid_circuit_measurement_is_refused_with_its_line() -> None:
    err, _ = refused(HEADER2 + "qreg q[2];\ncreg c[2];\nmeasure q[0] -> c[0];\nh q[1];\n")
    assert "measure only at the end" in str(err)
    assert err.line == 6


def test_classical_control_is_refused() -> None:
    err, _ = refused(HEADER2 + "qreg q[1];\ncreg c[1];\nmeasure q[0] -> c[0];\nif(c==1) x q[0];\n")
    assert "classical control" in str(err)
    assert err.line == 6


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (HEADER2 + "qreg q[2];\nh q[0]\ncx q[0],q[1];\n", 5),
        (HEADER3 + "qubit[2] q;\nh q[0];\ncx q[0] q[1];\n", 5),
        (HEADER3 + "qubit[2] q;\nh q[0];\nnotagate q[1];\n", 5),
        (HEADER2 + "qreg q[2];\n\n\nh r[0];\n", 6),
    ],
    ids=["qasm2 missing semicolon", "qasm3 missing comma", "qasm3 unknown gate", "qasm2 unknown register"],
)
def test_syntax_error_reports_its_line(text: str, line: int) -> None:
    err, _ = refused(text)
    assert err.field == "params.qasm"
    assert err.line == line
    assert err.column is not None and err.column >= 1
    assert f"line {line}, column {err.column}:" in str(err)


def test_a_syntax_error_names_the_column_of_the_offending_token() -> None:
    err, _ = refused(HEADER3 + "qubit[2] q;\nh q[0];\ncx q[0] q[1];\n")
    assert (err.line, err.column) == (5, 9)  # the "q" of q[1], where the comma should be


def test_unbound_input_parameters_are_refused() -> None:
    err, _ = refused(HEADER3 + "input float theta;\nqubit q;\nrx(theta) q;\n")
    assert "theta" in str(err)


def test_unknown_version_is_refused() -> None:
    err, _ = refused("OPENQASM 4.0;\nqreg q[1];\n")
    assert "OPENQASM 4.0" in str(err)


def test_qasm_errors_are_ir_errors_naming_params_qasm() -> None:
    err, _ = refused("")
    assert isinstance(err, IRError)
    assert err.field == "params.qasm"


def test_limits_summary_counts_qubits_and_expanded_gates() -> None:
    summary = check_limits(HEADER2 + "gate two a { x a; x a; }\nqreg q[3];\ntwo q[0];\nh q;\n")
    assert summary.version == 2
    assert summary.qubits == 3
    assert summary.expanded_gates == 2 + 3
