"""Exact statevector simulation of a bound IR circuit with numpy, for ideal distributions.

Families need the exact output distribution of the circuit they build to score benchmark runs
(Hellinger fidelity, heavy outputs, energies). Going through a vendor SDK for that would tie the
ideal to the thing being measured, so this small, independent simulator follows the IR's own gate
conventions (OpenQASM / qiskit, documented in `adapters.ir.GATES`) and is itself checked against
qiskit in the tests.

Axis ``q`` of the state tensor is qubit ``q``, so flattening puts qubit 0 in the most significant
bit and ``format(i, "0nb")`` is a bitstring with qubit 0 leftmost, as every result in the portal is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from adapters.ir import Circuit, IRError

# Dense simulation costs 16 · 2^n bytes and an ideal dict with up to 2^n entries: beyond this the
# ideal is "not cheap" and families report None instead.
MAX_SIM_QUBITS = 16
PROB_EPS = 1e-12  # outcomes below this are left out of ideal distributions

_I2 = np.eye(2, dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.diag([1, -1]).astype(complex)
_H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
_SX = np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=complex) / 2

_FIXED: dict[str, np.ndarray] = {
    "id": _I2,
    "x": _X,
    "y": _Y,
    "z": _Z,
    "h": _H,
    "s": np.diag([1, 1j]),
    "sdg": np.diag([1, -1j]),
    "t": np.diag([1, np.exp(1j * math.pi / 4)]),
    "tdg": np.diag([1, np.exp(-1j * math.pi / 4)]),
    "sx": _SX,
    "sxdg": _SX.conj().T,
    "swap": np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex),
    "iswap": np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]], dtype=complex),
}


def _controlled(u: np.ndarray) -> np.ndarray:
    """|0><0| ⊗ I + |1><1| ⊗ u, the first listed qubit being the control."""
    k = u.shape[0]
    out = np.eye(2 * k, dtype=complex)
    out[k:, k:] = u
    return out


def _rx(t: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, -1j * s], [-1j * s, c]])


def _ry(t: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def _rz(t: float) -> np.ndarray:
    return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])


def _p(lam: float) -> np.ndarray:
    return np.diag([1, np.exp(1j * lam)])


def _u(theta: float, phi: float, lam: float) -> np.ndarray:
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return np.array(
        [[c, -np.exp(1j * lam) * s], [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c]],
    )


def _pauli_rotation(pauli: np.ndarray, t: float) -> np.ndarray:
    """exp(-i t/2 P⊗P)."""
    pp = np.kron(pauli, pauli)
    return math.cos(t / 2) * np.eye(4) - 1j * math.sin(t / 2) * pp


def gate_matrix(name: str, params: tuple[float, ...] = ()) -> np.ndarray:
    """The unitary of an IR gate; the first listed qubit is the most significant index."""
    if name in _FIXED:
        return _FIXED[name]
    match name:
        case "rx":
            return _rx(*params)
        case "ry":
            return _ry(*params)
        case "rz":
            return _rz(*params)
        case "p":
            return _p(*params)
        case "u":
            return _u(*params)
        case "cx":
            return _controlled(_X)
        case "cy":
            return _controlled(_Y)
        case "cz":
            return _controlled(_Z)
        case "ch":
            return _controlled(_H)
        case "crx":
            return _controlled(_rx(*params))
        case "cry":
            return _controlled(_ry(*params))
        case "crz":
            return _controlled(_rz(*params))
        case "cp":
            return _controlled(_p(*params))
        case "rxx":
            return _pauli_rotation(_X, *params)
        case "ryy":
            return _pauli_rotation(_Y, *params)
        case "rzz":
            return _pauli_rotation(_Z, *params)
        case "ccx":
            return _controlled(_controlled(_X))
        case "cswap":
            return _controlled(_FIXED["swap"])
    raise IRError("gate", f"no matrix for gate {name!r}")


def _apply(psi: np.ndarray, n: int, u: np.ndarray, qubits: tuple[int, ...]) -> np.ndarray:
    """Apply `u` to `qubits` of the flat state `psi` (qubit 0 most significant), in place.

    The state is viewed as (rest, bit, rest, bit, …, rest) around the gate's qubits, and each
    output slice is the sum of u's non-zero entries times the input slices: no transposes (they
    dominate a tensordot at 14–16 qubits) and permutation gates like cx cost only copies.
    Diagonal gates are one broadcast multiply.
    """
    k = len(qubits)
    diagonal = np.diagonal(u)
    order = sorted(qubits)
    if np.count_nonzero(u - np.diag(diagonal)) == 0:
        phases = np.transpose(diagonal.reshape((2,) * k), [qubits.index(q) for q in order])
        shape = [1] * n
        for q in qubits:
            shape[q] = 2
        psi.reshape((2,) * n)[...] *= phases.reshape(shape)
        return psi
    shape: list[int] = []
    previous = -1
    for q in order:
        shape += [2 ** (q - previous - 1), 2]
        previous = q
    shape.append(2 ** (n - previous - 1))
    view = psi.reshape(shape)
    axis = {q: 2 * order.index(q) + 1 for q in qubits}

    def where(index: int) -> tuple[slice | int, ...]:
        # Matrix index → bits, the first listed qubit most significant (as in gate_matrix).
        at: list[slice | int] = [slice(None)] * len(shape)
        for pos, q in enumerate(qubits):
            at[axis[q]] = (index >> (k - 1 - pos)) & 1
        return tuple(at)

    slots = [where(i) for i in range(2**k)]
    inputs = [view[slot].copy() for slot in slots]
    for i, slot in enumerate(slots):
        out = view[slot]
        out[...] = 0
        for j in np.flatnonzero(u[i]):
            out += u[i, j] * inputs[j]
    return psi


def statevector(circuit: Circuit, *, max_qubits: int = MAX_SIM_QUBITS) -> np.ndarray:
    """The final state from |0…0⟩ as a flat complex vector (qubit 0 most significant)."""
    n = circuit.n_qubits
    if n > max_qubits:
        raise IRError("n_qubits", f"exact simulation is limited to {max_qubits} qubits, got {n}")
    if not circuit.is_bound:
        raise IRError("params", "bind every symbolic parameter before simulating")
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = 1.0
    for op in circuit.ops:
        if op.name in ("barrier", "id"):
            continue
        psi = _apply(psi, n, gate_matrix(op.name, tuple(float(p) for p in op.params)), op.qubits)
    return psi


def probabilities(circuit: Circuit, *, max_qubits: int = MAX_SIM_QUBITS) -> np.ndarray:
    """Probabilities of the measured qubits, indexed so that ``measure[0]`` is the top bit."""
    n = circuit.n_qubits
    probs = np.abs(statevector(circuit, max_qubits=max_qubits).reshape((2,) * n)) ** 2
    measured = circuit.measured
    unmeasured = tuple(q for q in range(n) if q not in measured)
    if unmeasured:
        probs = probs.sum(axis=unmeasured)
    # After summing, the remaining axes are the measured qubits in increasing order.
    order = sorted(measured)
    probs = np.transpose(probs, [order.index(q) for q in measured])
    return probs.reshape(-1)


def as_distribution(probs: np.ndarray, width: int) -> dict[str, float]:
    """Dense probability vector → {bitstring: p}, dropping outcomes below PROB_EPS."""
    total = float(probs.sum())
    return {format(int(i), f"0{width}b"): float(probs[i]) / total for i in np.flatnonzero(probs > PROB_EPS)}


def ideal_distribution(circuit: Circuit, *, max_qubits: int = MAX_SIM_QUBITS) -> dict[str, float] | None:
    """The exact output distribution of `circuit`, or None when it is too large to be cheap."""
    if circuit.n_qubits > max_qubits:
        return None
    return as_distribution(probabilities(circuit, max_qubits=max_qubits), len(circuit.measured))


def normalise(counts: Mapping[str, float]) -> dict[str, float]:
    """Counts or probabilities → probabilities summing to 1."""
    total = float(sum(counts.values()))
    if total <= 0:
        raise ValueError("counts are empty")
    return {k: v / total for k, v in counts.items()}
