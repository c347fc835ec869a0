"""QAOA for MaxCut on a small graph: p alternating cost and mixer layers with given angles.

Conventions (Farhi et al.): the cost layer is exp(−iγC) with C = Σ_edges (1 − Z_iZ_j)/2, which is
Π rzz(−γ) up to a global phase; the mixer is exp(−iβ Σ X_i) = Π rx(2β); the start is |+…+⟩.
`template` returns the same circuit with symbolic angles (``gamma_0``, ``beta_0``, …) for
variational loops that rebind them every iteration.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, FiniteFloat, ValidationInfo, field_validator

from adapters.ir import Circuit, Op, ParamRef
from jobs.families.base import Family, FamilyParams
from jobs.families.statevector import MAX_SIM_QUBITS, ideal_distribution, normalise

NAME = "qaoa_maxcut"
VERSION = 1
MAX_NODES = 24
MAX_LAYERS = 10


class QaoaMaxcutParams(FamilyParams):
    n_nodes: int = Field(ge=2, le=MAX_NODES, description="graph nodes, one qubit each")
    edges: list[tuple[int, int]] = Field(
        min_length=1, max_length=MAX_NODES * (MAX_NODES - 1) // 2, description="undirected edges [i, j], 0-based"
    )
    p: int = Field(default=1, ge=1, le=MAX_LAYERS, description="number of QAOA layers")
    gammas: list[FiniteFloat] = Field(description="cost angles γ, one per layer (length p)")
    betas: list[FiniteFloat] = Field(description="mixer angles β, one per layer (length p)")

    @field_validator("edges")
    @classmethod
    def _edges_in_graph(cls, edges: list[tuple[int, int]], info: ValidationInfo) -> list[tuple[int, int]]:
        n = info.data.get("n_nodes")
        seen: set[frozenset[int]] = set()
        for k, (i, j) in enumerate(edges):
            if n is not None and not (0 <= i < n and 0 <= j < n):
                raise ValueError(f"must name nodes 0 to {n - 1}; edge {k} [{i}, {j}] does not")
            if i == j:
                raise ValueError(f"must join two different nodes; edge {k} [{i}, {j}] is a self-loop")
            if frozenset((i, j)) in seen:
                raise ValueError(f"must list each edge once; edge {k} [{i}, {j}] is repeated")
            seen.add(frozenset((i, j)))
        return edges

    @field_validator("gammas", "betas")
    @classmethod
    def _one_angle_per_layer(cls, angles: list[float], info: ValidationInfo) -> list[float]:
        p = info.data.get("p")
        if p is not None and len(angles) != p:
            raise ValueError(f"must have exactly {p} angles, one per layer (p = {p}); it has {len(angles)}")
        return angles


def template(params: QaoaMaxcutParams) -> tuple[Circuit, dict[str, float]]:
    """The circuit with symbolic angles, and the values the params bind them to."""
    n = params.n_nodes
    ops = [Op("h", (q,)) for q in range(n)]
    values: dict[str, float] = {}
    for layer in range(params.p):
        gamma, beta = f"gamma_{layer}", f"beta_{layer}"
        values[gamma], values[beta] = params.gammas[layer], params.betas[layer]
        ops += [Op("rzz", (i, j), (ParamRef(gamma, -1.0),)) for i, j in params.edges]
        ops += [Op("rx", (q,), (ParamRef(beta, 2.0),)) for q in range(n)]
    return Circuit(n, tuple(ops), name=f"qaoa-maxcut-{n}-p{params.p}"), values


def build(params: QaoaMaxcutParams) -> Circuit:
    circuit, values = template(params)
    return circuit.bind(values)


def ideal(params: QaoaMaxcutParams) -> dict[str, float] | None:
    return ideal_distribution(build(params))  # None past MAX_SIM_QUBITS


def cut_value(params: QaoaMaxcutParams, bitstring: str) -> int:
    """Edges cut by the partition `bitstring` (qubit 0 leftmost)."""
    return sum(1 for i, j in params.edges if bitstring[i] != bitstring[j])


def expected_cut(params: QaoaMaxcutParams, counts: Mapping[str, float]) -> float:
    """Mean cut value over counts or probabilities: the QAOA objective (to maximise)."""
    return sum(p * cut_value(params, b) for b, p in normalise(counts).items())


def max_cut(params: QaoaMaxcutParams) -> int:
    """The best cut by brute force (n ≤ MAX_SIM_QUBITS), for approximation ratios."""
    n = params.n_nodes
    if n > MAX_SIM_QUBITS:
        raise ValueError(f"brute force is limited to {MAX_SIM_QUBITS} nodes")
    return max(cut_value(params, format(x, f"0{n}b")) for x in range(2 ** (n - 1)))


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="QAOA MaxCut",
    description="p-layer QAOA for MaxCut on a given graph; ideal: exact output distribution (≤ 16 nodes).",
    params_model=QaoaMaxcutParams,
    build=build,
    ideal=ideal,
    example={"n_nodes": 4, "edges": [[0, 1], [1, 2], [2, 3], [3, 0]], "p": 1, "gammas": [0.8], "betas": [0.4]},
    qubits_field="n_nodes",
    objectives=frozenset({"sample", "expectation", "minimize"}),
)
