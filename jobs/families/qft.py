"""Quantum Fourier transform of a basis state (qubit 0 most significant), optionally inverted.

The transform of a basis state is uniform in the computational basis, which makes a poor benchmark
on its own; ``roundtrip`` follows it with the opposite transform (QED-C style) so the ideal output is
the input state, which noise visibly spoils.
"""

from __future__ import annotations

import math

from pydantic import Field, ValidationInfo, field_validator

from adapters.ir import Circuit, Op
from jobs.families.base import BITSTRING_PATTERN, Family, FamilyParams
from jobs.families.ops import inverse
from jobs.families.statevector import MAX_SIM_QUBITS, ideal_distribution

NAME = "qft"
VERSION = 1
MAX_QFT_QUBITS = 24  # n² / 2 controlled phases; beyond this the rotations are below any gate's precision


class QftParams(FamilyParams):
    n_qubits: int = Field(ge=1, le=MAX_QFT_QUBITS, description="register width")
    input: str | None = Field(
        default=None,
        pattern=BITSTRING_PATTERN,
        description="basis state to transform, qubit 0 leftmost, as long as n_qubits; default all zeros",
    )
    inverse: bool = Field(default=False, description="apply the inverse transform QFT† instead of QFT")
    roundtrip: bool = Field(
        default=False, description="follow with the opposite transform, so the ideal output is the input"
    )

    @field_validator("input")
    @classmethod
    def _input_width(cls, value: str | None, info: ValidationInfo) -> str | None:
        n = info.data.get("n_qubits")
        if value is not None and n is not None and len(value) != n:
            raise ValueError(f"must have exactly {n} bits, one per qubit (n_qubits = {n}); it has {len(value)}")
        return value


def qft_ops(n: int) -> list[Op]:
    """QFT with qubit 0 as the most significant bit, final swaps included."""
    ops: list[Op] = []
    for j in range(n):
        ops.append(Op("h", (j,)))
        ops.extend(Op("cp", (k, j), (math.pi / 2 ** (k - j),)) for k in range(j + 1, n))
    ops.extend(Op("swap", (i, n - 1 - i)) for i in range(n // 2))
    return ops


def _input(params: QftParams) -> str:
    return params.input or "0" * params.n_qubits


def build(params: QftParams) -> Circuit:
    n = params.n_qubits
    forward = qft_ops(n)
    transform = inverse(forward) if params.inverse else forward
    ops = [Op("x", (q,)) for q, bit in enumerate(_input(params)) if bit == "1"]
    ops += transform
    if params.roundtrip:
        ops += inverse(transform)
    label = "iqft" if params.inverse else "qft"
    return Circuit(n, tuple(ops), name=f"{label}-{n}{'-roundtrip' if params.roundtrip else ''}")


def ideal(params: QftParams) -> dict[str, float] | None:
    if params.roundtrip:
        return {_input(params): 1.0}
    if params.n_qubits > MAX_SIM_QUBITS:  # no ideal this wide: do not build the circuit to find that out
        return None
    return ideal_distribution(build(params))


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="Quantum Fourier transform",
    description="QFT (or QFT†) of a basis state; with roundtrip the ideal output is the input state.",
    params_model=QftParams,
    build=build,
    ideal=ideal,
    example={"n_qubits": 4, "input": "0101", "roundtrip": True},
)
