"""Bernstein–Vazirani: one oracle query reveals a hidden bitstring; the ideal output is the secret.

The oracle uses one ancilla (the last qubit) in |−⟩; only the data qubits are measured, so results
are bitstrings as wide as the secret.
"""

from __future__ import annotations

from pydantic import Field

from adapters.ir import Circuit, Op
from jobs.families.base import BITSTRING_PATTERN, MAX_QUBITS, Family, FamilyParams

NAME = "bernstein_vazirani"
VERSION = 1


class BernsteinVaziraniParams(FamilyParams):
    secret: str = Field(
        min_length=1,
        max_length=MAX_QUBITS - 1,
        pattern=BITSTRING_PATTERN,
        description="the hidden bitstring, qubit 0 leftmost; the circuit uses one extra ancilla qubit",
    )


def build(params: BernsteinVaziraniParams) -> Circuit:
    n = len(params.secret)
    anc = n
    ops = [Op("x", (anc,)), Op("h", (anc,))]
    ops += [Op("h", (q,)) for q in range(n)]
    ops += [Op("cx", (q, anc)) for q, bit in enumerate(params.secret) if bit == "1"]
    ops += [Op("h", (q,)) for q in range(n)]
    return Circuit(n + 1, tuple(ops), measure=tuple(range(n)), name=f"bv-{n}")


def ideal(params: BernsteinVaziraniParams) -> dict[str, float]:
    return {params.secret: 1.0}


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="Bernstein–Vazirani",
    description="Recover a hidden bitstring with one oracle query; ideal: the secret, deterministically.",
    params_model=BernsteinVaziraniParams,
    build=build,
    ideal=ideal,
    example={"secret": "1011"},
    qubits_field="secret",
)
