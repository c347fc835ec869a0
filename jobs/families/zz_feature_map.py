"""The ZZ feature map of quantum kernel methods (Havlíček et al. 2019; qiskit's ZZFeatureMap).

Each repetition: H on every qubit, P(2·x_i) on qubit i, then for each entangled pair (i, j)
CX · P(2(π − x_i)(π − x_j)) on j · CX. The kernel entry k(x, y) is the probability of 0…0 after
U(x) U(y)†; this family runs U(x) and reports its exact distribution as the ideal.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, FiniteFloat, ValidationInfo, field_validator

from adapters.ir import Circuit, Op
from jobs.families.base import Family, FamilyParams
from jobs.families.statevector import ideal_distribution

NAME = "zz_feature_map"
VERSION = 1
MAX_FEATURES = 24
MAX_REPS = 10


class ZzFeatureMapParams(FamilyParams):
    n_qubits: int = Field(ge=1, le=MAX_FEATURES, description="features, one qubit each")
    x: list[FiniteFloat] = Field(description="the data point, one value per qubit")
    reps: int = Field(default=2, ge=1, le=MAX_REPS, description="repetitions of the encoding block")
    entanglement: Literal["full", "linear"] = Field(
        default="full", description="which pairs get a ZZ term: all pairs, or neighbours"
    )

    @field_validator("x")
    @classmethod
    def _one_value_per_qubit(cls, x: list[float], info: ValidationInfo) -> list[float]:
        n = info.data.get("n_qubits")
        if n is not None and len(x) != n:
            raise ValueError(f"must have exactly {n} values, one per qubit (n_qubits = {n}); it has {len(x)}")
        return x


def _pairs(params: ZzFeatureMapParams) -> list[tuple[int, int]]:
    n = params.n_qubits
    if params.entanglement == "linear":
        return [(i, i + 1) for i in range(n - 1)]
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def build(params: ZzFeatureMapParams) -> Circuit:
    n, x = params.n_qubits, params.x
    ops: list[Op] = []
    for _ in range(params.reps):
        ops += [Op("h", (q,)) for q in range(n)]
        ops += [Op("p", (q,), (2.0 * x[q],)) for q in range(n)]
        for i, j in _pairs(params):
            phi = 2.0 * (math.pi - x[i]) * (math.pi - x[j])
            ops += [Op("cx", (i, j)), Op("p", (j,), (phi,)), Op("cx", (i, j))]
    return Circuit(n, tuple(ops), name=f"zz-feature-map-{n}-r{params.reps}")


def ideal(params: ZzFeatureMapParams) -> dict[str, float] | None:
    return ideal_distribution(build(params))  # None past MAX_SIM_QUBITS


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="ZZ feature map",
    description="Quantum-kernel data encoding (H, P(2x), CX·P·CX); ideal: exact output distribution.",
    params_model=ZzFeatureMapParams,
    build=build,
    ideal=ideal,
    example={"n_qubits": 3, "x": [0.1, 0.7, 1.3], "reps": 2},
)
