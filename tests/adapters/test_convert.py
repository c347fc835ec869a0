"""The IR converters: cirq and qiskit must build the same state for every gate, bit order included."""

from __future__ import annotations

import math

import cirq
import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import U2Gate
from qiskit.quantum_info import Operator, Statevector

from adapters.convert import line_qubits, qiskit_counts_to_portal, qiskit_to_ir, to_cirq, to_qiskit
from adapters.ir import GATES, Circuit, IRError, Op, ParamRef, ops_from
from adapters.versions import sdk_versions


def cirq_state(circuit: Circuit) -> np.ndarray:
    return cirq.final_state_vector(
        to_cirq(circuit, measure=False), qubit_order=line_qubits(circuit.n_qubits), dtype=np.complex128
    )


def qiskit_state(circuit: Circuit) -> np.ndarray:
    # qiskit's statevector is little-endian (qubit 0 least significant); cirq's is big-endian.
    return Statevector(to_qiskit(circuit, measure=False)).reverse_qargs().data


def assert_same_up_to_global_phase(a: np.ndarray, b: np.ndarray) -> None:
    overlap = abs(np.vdot(a, b))
    assert overlap == pytest.approx(1.0, abs=1e-6), f"|<a|b>| = {overlap}"


def prep(n: int) -> list[Op]:
    """A generic product state so every gate acts non-trivially (no accidental eigenstates)."""
    return [Op("u", (q,), (0.3 + 0.4 * q, 0.7 - 0.2 * q, 0.11 * (q + 1))) for q in range(n)]


def gate_params(n_params: int) -> tuple[float, ...]:
    return tuple(0.37 + 0.91 * i for i in range(n_params))


@pytest.mark.parametrize("gate", sorted(GATES))
def test_every_gate_gives_the_same_state_in_cirq_and_qiskit(gate: str) -> None:
    arity, n_params = GATES[gate]
    arity = 3 if arity < 0 else arity
    # Reverse the qubits so asymmetric gates (cx, crx, ch, ...) are tested with control > target too.
    qubits = tuple(reversed(range(arity)))
    circuit = Circuit(3, (*prep(3), Op(gate, qubits, gate_params(n_params))))
    assert_same_up_to_global_phase(cirq_state(circuit), qiskit_state(circuit))


@pytest.mark.parametrize("gate", sorted(g for g, (arity, _) in GATES.items() if arity > 0))
def test_every_gate_has_the_exact_same_unitary_in_both_sdks(gate: str) -> None:
    """Exact, not up to global phase: a controlled version built later must not pick up a relative phase."""
    arity, n_params = GATES[gate]
    circuit = Circuit(arity, (Op(gate, tuple(range(arity)), gate_params(n_params)),))
    u_cirq = cirq.unitary(to_cirq(circuit, measure=False))
    u_qiskit = Operator(to_qiskit(circuit, measure=False)).reverse_qargs().data
    np.testing.assert_allclose(u_cirq, u_qiskit, atol=1e-9)


def test_x_on_qubit_0_is_the_leftmost_bit_in_both_states() -> None:
    circuit = Circuit(3, ops_from([("x", [0])]))
    expected = np.zeros(8)
    expected[0b100] = 1
    np.testing.assert_allclose(np.abs(cirq_state(circuit)), expected, atol=1e-7)
    np.testing.assert_allclose(np.abs(qiskit_state(circuit)), expected, atol=1e-7)


def test_hand_circuits_agree_between_sdks() -> None:
    circuits = [
        Circuit(2, ops_from([("h", [0]), ("cx", [0, 1])])),
        Circuit(3, ops_from([("x", [2]), ("h", [0]), ("cp", [0, 2], [0.4]), ("rzz", [1, 2], [1.1])])),
        Circuit(3, ops_from([("x", [1]), ("h", [0]), ("ccx", [0, 2, 1]), ("crx", [2, 0], [0.8])])),
        Circuit(4, ops_from([("ry", [3], [0.2]), ("cswap", [3, 0, 1]), ("iswap", [1, 2])])),
    ]
    for circuit in circuits:
        assert_same_up_to_global_phase(cirq_state(circuit), qiskit_state(circuit))


def test_measurements_follow_the_measure_list() -> None:
    circuit = Circuit(3, ops_from([("x", [2])]), measure=(2, 0))
    cq = to_cirq(circuit)
    result = cirq.Simulator(seed=1).run(cq, repetitions=5)
    assert result.measurements["m"].tolist() == [[1, 0]] * 5
    qc = to_qiskit(circuit)
    assert qc.num_clbits == 2
    assert [qc.find_bit(inst.qubits[0]).index for inst in qc.data if inst.operation.name == "measure"] == [2, 0]


def test_qiskit_counts_are_reversed_and_padded_to_portal_order() -> None:
    assert qiskit_counts_to_portal({"001": 7, "1": 3}, 3) == {"100": 10}
    assert qiskit_counts_to_portal({"0x1": 4}, 3) == {"100": 4}


def test_symbolic_parameters_survive_both_conversions() -> None:
    circuit = Circuit(1, (Op("rx", (0,), (ParamRef("theta", 2.0),)),))
    bound = circuit.bind({"theta": 0.3})
    qc = to_qiskit(circuit, measure=False)
    assert [p.name for p in qc.parameters] == ["theta"]
    resolved = cirq.resolve_parameters(to_cirq(circuit, measure=False), {"theta": 0.3})
    np.testing.assert_allclose(cirq.unitary(resolved), cirq.unitary(to_cirq(bound, measure=False)), atol=1e-9)
    assert qiskit_to_ir(qc).ops[0].params == (ParamRef("theta", 2.0),)


def test_qiskit_circuit_round_trips_through_ir() -> None:
    circuit = Circuit(
        3,
        ops_from(
            [("h", [0]), ("u", [1], [0.1, 0.2, 0.3]), ("crz", [1, 2], [0.5]), ("barrier", [0, 1, 2]), ("sxdg", [2])]
        ),
        measure=(2, 1),
    )
    assert qiskit_to_ir(to_qiskit(circuit)) == circuit


def test_qiskit_legacy_gate_names_map_to_ir_gates() -> None:
    qc = QuantumCircuit(2)
    qc.append(U2Gate(0.1, 0.2), [0])
    qc.measure_all()
    circuit = qiskit_to_ir(qc)
    assert circuit.ops[0].name == "u"
    assert circuit.ops[0].params == (math.pi / 2, 0.1, 0.2)
    assert circuit.measure is None


def test_unsupported_qiskit_instruction_is_named_in_the_error() -> None:
    qc = QuantumCircuit(1)
    qc.reset(0)
    with pytest.raises(IRError, match="reset"):
        qiskit_to_ir(qc)


def test_gate_after_measurement_is_refused() -> None:
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.x(0)
    with pytest.raises(IRError, match="after a measurement"):
        qiskit_to_ir(qc)


def test_sdk_versions_name_every_simulator_package() -> None:
    versions = sdk_versions()
    assert set(versions) == {"cirq-core", "qsimcirq", "qiskit", "qiskit-aer", "qiskit-ibm-runtime", "numpy"}
    assert versions["qiskit"][0].isdigit()


def test_measure_all_beside_an_unused_register_keeps_only_measured_bits() -> None:
    qc = QuantumCircuit(3, 3)
    qc.x(1)
    qc.measure_all()  # adds a second register "meas"; "c" is never written
    assert qiskit_to_ir(qc).measure is None


def test_measurement_order_follows_classical_bits() -> None:
    qc = QuantumCircuit(3, 2)
    qc.measure(2, 0)
    qc.measure(0, 1)
    assert qiskit_to_ir(qc).measure == (2, 0)


@pytest.mark.parametrize("width", [1, 3, 12, 13, 20, 24, 25, 40, 70])
def test_shot_histogram_matches_a_naive_count_at_every_width(width: int) -> None:
    from adapters.convert import cirq_counts

    shots = np.random.default_rng(width).integers(0, 2, (500, width))
    naive: dict[str, int] = {}
    for row in shots:
        key = "".join(str(b) for b in row)
        naive[key] = naive.get(key, 0) + 1
    assert cirq_counts(shots, width) == naive
