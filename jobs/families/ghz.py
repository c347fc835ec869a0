"""GHZ states: (|0…0⟩ + |1…1⟩)/√2 on n qubits, the standard entanglement benchmark (SupermarQ GHZ).

The ideal is known for any width, so GHZ may be as wide as the largest modelled device.
"""

from __future__ import annotations

from pydantic import Field

from adapters.ir import Circuit, Op
from jobs.families.base import MAX_QUBITS, Family, FamilyParams

NAME = "ghz"
VERSION = 1


class GhzParams(FamilyParams):
    n_qubits: int = Field(ge=2, le=MAX_QUBITS, description="number of entangled qubits")


def build(params: GhzParams) -> Circuit:
    n = params.n_qubits
    ops = [Op("h", (0,))] + [Op("cx", (q, q + 1)) for q in range(n - 1)]
    return Circuit(n, tuple(ops), name=f"ghz-{n}")


def ideal(params: GhzParams) -> dict[str, float]:
    n = params.n_qubits
    return {"0" * n: 0.5, "1" * n: 0.5}


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="GHZ state",
    description="H then a CNOT chain; ideal: half 0…0, half 1…1.",
    params_model=GhzParams,
    build=build,
    ideal=ideal,
    example={"n_qubits": 5},
)
