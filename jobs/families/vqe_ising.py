"""VQE ansatz for the transverse-field Ising model, H = −J Σ Z_iZ_{i+1} − h Σ X_i.

The ansatz is hardware-efficient and real (RY layers with a CNOT ladder between them), which is
enough for the TFIM ground state whose amplitudes are real. ``angles`` holds n_qubits × (layers + 1)
RY angles, layer by layer. The energy needs two measurement settings: the Z basis (the ZZ terms,
the ideal distribution here) and the X basis (`measurement_circuit(params, "X")`) for the field term.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from pydantic import Field, FiniteFloat, ValidationInfo, field_validator

from adapters.ir import Circuit, Op, ParamRef
from jobs.families.base import Family, FamilyParams
from jobs.families.statevector import MAX_SIM_QUBITS, ideal_distribution, normalise, statevector

NAME = "vqe_ising"
VERSION = 1
MAX_VQE_QUBITS = 24
MAX_LAYERS = 10
MAX_EXACT_QUBITS = 12  # dense diagonalisation for the ground-state energy: 4^n matrix entries


class VqeIsingParams(FamilyParams):
    n_qubits: int = Field(ge=2, le=MAX_VQE_QUBITS, description="spins in the chain, one qubit each")
    layers: int = Field(default=1, ge=1, le=MAX_LAYERS, description="entangling layers of the ansatz")
    angles: list[FiniteFloat] = Field(description="RY angles, n_qubits × (layers + 1), layer by layer")
    h: float = Field(default=1.0, ge=-100, le=100, description="transverse field strength h")
    J: float = Field(default=1.0, ge=-100, le=100, description="ZZ coupling strength J")
    periodic: bool = Field(default=False, description="close the chain into a ring")

    @field_validator("angles")
    @classmethod
    def _angle_count(cls, angles: list[float], info: ValidationInfo) -> list[float]:
        n, layers = info.data.get("n_qubits"), info.data.get("layers")
        if n is not None and layers is not None and len(angles) != n * (layers + 1):
            raise ValueError(
                f"must have {n * (layers + 1)} angles, n_qubits × (layers + 1) = {n} × {layers + 1}; "
                f"it has {len(angles)}"
            )
        return angles


def n_angles(n_qubits: int, layers: int) -> int:
    return n_qubits * (layers + 1)


def _bonds(params: VqeIsingParams) -> list[tuple[int, int]]:
    n = params.n_qubits
    bonds = [(q, q + 1) for q in range(n - 1)]
    if params.periodic and n > 2:
        bonds.append((n - 1, 0))
    return bonds


def template(params: VqeIsingParams) -> tuple[Circuit, dict[str, float]]:
    """The ansatz with symbolic angles ``theta_0`` … and the values the params bind them to."""
    n = params.n_qubits
    ops: list[Op] = []
    k = 0
    for layer in range(params.layers + 1):
        if layer:
            ops += [Op("cx", (q, q + 1)) for q in range(n - 1)]
        for q in range(n):
            ops.append(Op("ry", (q,), (ParamRef(f"theta_{k}"),)))
            k += 1
    values = {f"theta_{i}": a for i, a in enumerate(params.angles)}
    return Circuit(n, tuple(ops), name=f"vqe-ising-{n}-l{params.layers}"), values


def build(params: VqeIsingParams) -> Circuit:
    circuit, values = template(params)
    return circuit.bind(values)


def measurement_circuit(params: VqeIsingParams, basis: Literal["Z", "X"] = "Z") -> Circuit:
    """The ansatz measured in the Z basis (ZZ terms) or, with a final H layer, the X basis."""
    circuit = build(params)
    if basis == "Z":
        return circuit
    ops = circuit.ops + tuple(Op("h", (q,)) for q in range(circuit.n_qubits))
    return Circuit(circuit.n_qubits, ops, name=f"{circuit.name}-xbasis")


def hamiltonian(params: VqeIsingParams) -> list[tuple[float, str]]:
    """H as (coefficient, Pauli string) terms, qubit 0 leftmost in each string."""
    n = params.n_qubits
    terms: list[tuple[float, str]] = []
    for i, j in _bonds(params):
        label = ["I"] * n
        label[i] = label[j] = "Z"
        terms.append((-params.J, "".join(label)))
    for q in range(n):
        label = ["I"] * n
        label[q] = "X"
        terms.append((-params.h, "".join(label)))
    return terms


def _parity_mean(probs: Mapping[str, float], qubits: tuple[int, ...]) -> float:
    """⟨Π Z_q⟩ from computational-basis probabilities."""
    return sum(p * (-1) ** sum(b[q] == "1" for q in qubits) for b, p in probs.items())


def energy(params: VqeIsingParams, z_counts: Mapping[str, float], x_counts: Mapping[str, float] | None = None) -> float:
    """⟨H⟩ estimated from counts (or probabilities) in the Z basis and, for the field term, the X basis.

    Without X-basis counts only the ZZ part is returned, which is the whole energy when h = 0.
    """
    z = normalise(z_counts)
    value = sum(-params.J * _parity_mean(z, bond) for bond in _bonds(params))
    if x_counts is not None:
        x = normalise(x_counts)
        value += sum(-params.h * _parity_mean(x, (q,)) for q in range(params.n_qubits))
    return value


def ideal_energy(params: VqeIsingParams) -> float | None:
    """The exact ⟨ψ(θ)|H|ψ(θ)⟩ of the ansatz state (None beyond exact simulation)."""
    if params.n_qubits > MAX_SIM_QUBITS:
        return None
    psi = statevector(build(params))
    return float(np.real(np.vdot(psi, _hamiltonian_matrix(params) @ psi)))


def ground_energy(params: VqeIsingParams) -> float | None:
    """The exact ground-state energy by diagonalisation, the target of the minimisation."""
    if params.n_qubits > MAX_EXACT_QUBITS:
        return None
    return float(np.linalg.eigvalsh(_hamiltonian_matrix(params)).min())


def _hamiltonian_matrix(params: VqeIsingParams) -> np.ndarray:
    paulis = {"I": np.eye(2), "Z": np.diag([1.0, -1.0]), "X": np.array([[0.0, 1.0], [1.0, 0.0]])}
    dim = 2**params.n_qubits
    out = np.zeros((dim, dim))
    for coeff, label in hamiltonian(params):
        term = np.array([[1.0]])
        for ch in label:  # qubit 0 first = most significant, matching the statevector's order
            term = np.kron(term, paulis[ch])
        out += coeff * term
    return out


def ideal(params: VqeIsingParams) -> dict[str, float] | None:
    return ideal_distribution(build(params))  # None past MAX_SIM_QUBITS


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="VQE: transverse-field Ising",
    description="Hardware-efficient RY/CNOT ansatz for H = −J Σ ZZ − h Σ X; ideal: exact Z-basis distribution.",
    params_model=VqeIsingParams,
    build=build,
    ideal=ideal,
    example={"n_qubits": 4, "layers": 1, "angles": [0.3, -0.2, 0.5, 0.1, 0.4, 0.0, -0.3, 0.2], "h": 1.0, "J": 1.0},
    objectives=frozenset({"sample", "expectation", "minimize"}),
)
