"""IR round trips: every family's circuit and random IR circuits give the same state in cirq, qiskit
and the families' own numpy simulator (the one ideal distributions come from)."""

from __future__ import annotations

import math

import cirq
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.quantum_info import Statevector

from adapters.convert import line_qubits, to_cirq, to_qiskit
from adapters.ir import GATES, Circuit, Op
from jobs.families import FAMILIES
from jobs.families.statevector import statevector

# Example params plus a couple of other shapes per family, all small enough to simulate densely.
EXTRA_PARAMS: dict[str, list[dict]] = {
    "bell": [{"state": "psi-"}, {"state": "phi-"}],
    "ghz": [{"n_qubits": 2}, {"n_qubits": 7}],
    "qft": [{"n_qubits": 5, "input": "10011"}, {"n_qubits": 3, "input": "110", "inverse": True}],
    "grover": [{"n_qubits": 4, "marked": "0110"}, {"n_qubits": 5, "marked": "10001", "iterations": 2}],
    "bernstein_vazirani": [{"secret": "1"}, {"secret": "010110"}],
    "qaoa_maxcut": [
        {"n_nodes": 3, "edges": [[0, 1], [1, 2], [0, 2]], "p": 2, "gammas": [0.3, 0.9], "betas": [0.7, 0.2]},
        {"n_nodes": 5, "edges": [[0, 4], [1, 3]], "p": 1, "gammas": [1.1], "betas": [-0.3]},
    ],
    "vqe_ising": [
        {"n_qubits": 3, "layers": 2, "angles": [0.1 * i for i in range(9)], "h": 0.5, "J": -1.0, "periodic": True},
    ],
    "zz_feature_map": [{"n_qubits": 4, "x": [0.3, -1.2, 2.0, 0.5], "reps": 1, "entanglement": "linear"}],
    "random": [{"n_qubits": 5, "depth": 8, "seed": 123}, {"n_qubits": 1, "depth": 3, "seed": 0}],
    "quantum_volume": [{"n_qubits": 3, "seed": 5}, {"n_qubits": 5, "seed": 99}],
    "mirror": [{"n_qubits": 4, "depth": 6, "seed": 42}, {"n_qubits": 1, "depth": 2, "seed": 9}],
    "openqasm": [
        {
            "qasm": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nh q[0];\ncrx(0.4) q[0], q[2];\n'
            "ctrl @ s q[2], q[1];\nry(-0.8) q[1];\n"
        }
    ],
}

FAMILY_CASES = [
    pytest.param(name, params, id=f"{name}-{i}")
    for name, versions in FAMILIES.items()
    for family in versions.values()
    for i, params in enumerate([dict(family.example), *EXTRA_PARAMS.get(name, [])])
]


def cirq_state(circuit: Circuit) -> np.ndarray:
    return cirq.final_state_vector(
        to_cirq(circuit, measure=False), qubit_order=line_qubits(circuit.n_qubits), dtype=np.complex128
    )


def qiskit_state(circuit: Circuit) -> np.ndarray:
    # qiskit is little-endian (qubit 0 least significant): reverse to qubit 0 most significant.
    return Statevector(to_qiskit(circuit, measure=False)).reverse_qargs().data


def assert_same_state(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to a global phase: |⟨a|b⟩| = 1 for unit vectors."""
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-6)
    assert abs(np.vdot(a, b)) == pytest.approx(1.0, abs=1e-6)


def test_every_family_has_round_trip_cases() -> None:
    assert {name for name, *_ in (case.values for case in FAMILY_CASES)} == set(FAMILIES)


@pytest.mark.parametrize(("name", "params"), FAMILY_CASES)
def test_family_circuit_gives_the_same_state_in_cirq_qiskit_and_numpy(name: str, params: dict) -> None:
    family = FAMILIES[name][max(FAMILIES[name])]
    circuit = family.build(family.parse(params))
    reference = qiskit_state(circuit)
    assert_same_state(cirq_state(circuit), reference)
    assert_same_state(statevector(circuit), reference)


@pytest.mark.parametrize(("name", "params"), FAMILY_CASES)
def test_family_circuit_survives_a_json_round_trip(name: str, params: dict) -> None:
    family = FAMILIES[name][max(FAMILIES[name])]
    circuit = family.build(family.parse(params))
    assert Circuit.from_json(circuit.to_json()).to_json() == circuit.to_json()


# --- random IR circuits -------------------------------------------------------------------------
angles = st.floats(min_value=-2 * math.pi, max_value=2 * math.pi, allow_nan=False, allow_infinity=False)


@st.composite
def ir_circuits(draw: st.DrawFn) -> Circuit:
    n = draw(st.integers(min_value=1, max_value=5))
    usable = sorted(g for g, (arity, _) in GATES.items() if arity <= n)
    ops = []
    for _ in range(draw(st.integers(min_value=0, max_value=20))):
        gate = draw(st.sampled_from(usable))
        arity, n_params = GATES[gate]
        width = draw(st.integers(min_value=1, max_value=n)) if arity < 0 else arity
        qubits = draw(st.permutations(range(n)))[:width]
        params = tuple(draw(angles) for _ in range(n_params))
        ops.append(Op(gate, tuple(qubits), params))
    return Circuit(n, tuple(ops))


@settings(max_examples=50, deadline=None)
@given(ir_circuits())
def test_random_ir_circuit_gives_the_same_state_in_cirq_and_qiskit(circuit: Circuit) -> None:
    reference = qiskit_state(circuit)
    assert_same_state(cirq_state(circuit), reference)
    assert_same_state(statevector(circuit), reference)


def test_bit_order_is_qubit_zero_leftmost_in_every_simulator() -> None:
    """An asymmetric circuit (X on qubit 0 of 3) must read |100⟩ everywhere: index 4 when qubit 0 is the top bit."""
    circuit = Circuit(3, (Op("x", (0,)),))
    for state in (cirq_state(circuit), qiskit_state(circuit), statevector(circuit)):
        assert abs(state[0b100]) == pytest.approx(1.0)
