"""Seeded random circuits: layers of random one-qubit gates and random pairs of two-qubit gates.

Same seed, same circuit (see `SeededRng`), so a random benchmark is reproducible months later. The
ideal is exact simulation, cheap up to 16 qubits; wider random circuits have no ideal here.
"""

from __future__ import annotations

from pydantic import Field

from adapters.ir import Circuit, Op
from jobs.families.base import Family, FamilyParams
from jobs.families.ops import SeededRng
from jobs.families.statevector import MAX_SIM_QUBITS, ideal_distribution

NAME = "random"
VERSION = 1
MAX_RANDOM_QUBITS = 32
MAX_DEPTH = 200
MAX_SEED = 2**32 - 1

_FIXED_1Q = ("h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sxdg")
_ROTATIONS_1Q = ("rx", "ry", "rz", "p")
_FIXED_2Q = ("cx", "cz", "swap", "iswap", "cy", "ch")
_ROTATIONS_2Q = ("rzz", "rxx", "ryy", "cp", "crx", "cry", "crz")


class RandomParams(FamilyParams):
    n_qubits: int = Field(ge=1, le=MAX_RANDOM_QUBITS, description="register width")
    depth: int = Field(ge=1, le=MAX_DEPTH, description="layers, each a one-qubit gate per qubit plus random pairs")
    seed: int = Field(ge=0, le=MAX_SEED, description="random seed; the same seed gives the same circuit")


def _one_qubit(rng: SeededRng, q: int) -> Op:
    if rng.random() < 0.5:
        return Op(rng.choice(_FIXED_1Q), (q,))
    if rng.random() < 0.25:
        return Op("u", (q,), (rng.angle() / 2, rng.angle(), rng.angle()))
    return Op(rng.choice(_ROTATIONS_1Q), (q,), (rng.angle(),))


def _two_qubit(rng: SeededRng, a: int, b: int) -> Op:
    if rng.random() < 0.5:
        return Op(rng.choice(_FIXED_2Q), (a, b))
    return Op(rng.choice(_ROTATIONS_2Q), (a, b), (rng.angle(),))


def build(params: RandomParams) -> Circuit:
    n = params.n_qubits
    rng = SeededRng(params.seed)
    ops: list[Op] = []
    for _ in range(params.depth):
        ops += [_one_qubit(rng, q) for q in range(n)]
        order = rng.permutation(n)
        ops += [_two_qubit(rng, order[k], order[k + 1]) for k in range(0, n - 1, 2)]
    return Circuit(n, tuple(ops), name=f"random-{n}x{params.depth}-s{params.seed}")


def ideal(params: RandomParams) -> dict[str, float] | None:
    if params.n_qubits > MAX_SIM_QUBITS:  # no ideal this wide: do not build the circuit to find that out
        return None
    return ideal_distribution(build(params))


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="Random circuit",
    description="Seeded layers of random gates; ideal: exact distribution up to 16 qubits.",
    params_model=RandomParams,
    build=build,
    ideal=ideal,
    prefers_noise=True,
    example={"n_qubits": 4, "depth": 5, "seed": 7},
)
