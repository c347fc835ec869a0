"""Bell pairs: the smallest entangled state, the first thing anyone runs on a new backend."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from adapters.ir import Circuit, Op
from jobs.families.base import Family, FamilyParams

NAME = "bell"
VERSION = 1

# Which of the four Bell states, and the two outcomes each one gives with probability ½.
_OUTCOMES = {"phi+": ("00", "11"), "phi-": ("00", "11"), "psi+": ("01", "10"), "psi-": ("01", "10")}


class BellParams(FamilyParams):
    state: Literal["phi+", "phi-", "psi+", "psi-"] = Field(
        default="phi+", description="which Bell state: phi± = (|00⟩ ± |11⟩)/√2, psi± = (|01⟩ ± |10⟩)/√2"
    )


def build(params: BellParams) -> Circuit:
    ops = [Op("h", (0,)), Op("cx", (0, 1))]
    if params.state in ("psi+", "psi-"):
        ops.append(Op("x", (1,)))
    if params.state in ("phi-", "psi-"):
        ops.append(Op("z", (0,)))
    return Circuit(2, tuple(ops), name=f"bell-{params.state}")


def ideal(params: BellParams) -> dict[str, float]:
    return dict.fromkeys(_OUTCOMES[params.state], 0.5)


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="Bell pair",
    description="Two qubits in one of the four Bell states; ideal: two outcomes with probability ½ each.",
    params_model=BellParams,
    build=build,
    ideal=ideal,
    example={"state": "phi+"},
)
