"""Grover search for one marked bitstring.

The ideal is analytic: after k iterations the marked state has probability sin²((2k+1)θ) with
sin θ = 2^(−n/2), and the rest share the remainder equally. The multi-controlled Z costs about 2ⁿ
gates without ancillas, hence the small width limit (8 qubits: ~13k gates).
"""

from __future__ import annotations

import math

from pydantic import Field, ValidationInfo, field_validator

from adapters.ir import Circuit, Op
from jobs.families.base import BITSTRING_PATTERN, Family, FamilyParams
from jobs.families.ops import mcz
from jobs.families.statevector import MAX_SIM_QUBITS

NAME = "grover"
VERSION = 1
MAX_GROVER_QUBITS = 8  # the ancilla-free oracle is ~2ⁿ⁺¹ gates, times ~2^(n/2) iterations
MAX_ITERATIONS = 64


class GroverParams(FamilyParams):
    n_qubits: int = Field(ge=2, le=MAX_GROVER_QUBITS, description="search register width")
    marked: str = Field(pattern=BITSTRING_PATTERN, description="the marked bitstring, qubit 0 leftmost")
    iterations: int | None = Field(
        default=None, ge=0, le=MAX_ITERATIONS, description="Grover iterations; default the optimal number"
    )

    @field_validator("marked")
    @classmethod
    def _marked_width(cls, value: str, info: ValidationInfo) -> str:
        n = info.data.get("n_qubits")
        if n is not None and len(value) != n:
            raise ValueError(f"must have exactly {n} bits, one per qubit (n_qubits = {n}); it has {len(value)}")
        return value


def optimal_iterations(n_qubits: int) -> int:
    theta = math.asin(2 ** (-n_qubits / 2))
    return max(0, round(math.pi / (4 * theta) - 0.5))


def iterations(params: GroverParams) -> int:
    return optimal_iterations(params.n_qubits) if params.iterations is None else params.iterations


def build(params: GroverParams) -> Circuit:
    n = params.n_qubits
    qubits = list(range(n))
    zeros = [q for q, bit in enumerate(params.marked) if bit == "0"]
    ops = [Op("h", (q,)) for q in qubits]
    for _ in range(iterations(params)):
        # Oracle: phase-flip the marked state.
        ops += [Op("x", (q,)) for q in zeros] + mcz(qubits) + [Op("x", (q,)) for q in zeros]
        # Diffusion: reflect about the uniform superposition (up to a global phase).
        ops += [Op("h", (q,)) for q in qubits] + [Op("x", (q,)) for q in qubits]
        ops += mcz(qubits)
        ops += [Op("x", (q,)) for q in qubits] + [Op("h", (q,)) for q in qubits]
    return Circuit(n, tuple(ops), name=f"grover-{n}")


def ideal(params: GroverParams) -> dict[str, float] | None:
    n = params.n_qubits
    if n > MAX_SIM_QUBITS:
        return None
    theta = math.asin(2 ** (-n / 2))
    p_marked = math.sin((2 * iterations(params) + 1) * theta) ** 2
    p_other = (1 - p_marked) / (2**n - 1)
    out = {format(i, f"0{n}b"): p_other for i in range(2**n)} if p_other > 1e-12 else {}
    out[params.marked] = p_marked
    return {k: v for k, v in out.items() if v > 1e-12}


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="Grover search",
    description="Amplitude amplification of one marked bitstring; ideal: sin²((2k+1)θ) on the marked state.",
    params_model=GroverParams,
    build=build,
    ideal=ideal,
    example={"n_qubits": 3, "marked": "101"},
)
