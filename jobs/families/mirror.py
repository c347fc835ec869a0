"""Mirror circuits (Proctor et al. 2021): random Clifford layers, a random Pauli layer, then the
inverse layers. The whole circuit equals a Pauli, so the ideal output is one known bitstring at any
width — a scalable noise benchmark (polarisation (S − 2⁻ʷ)/(1 − 2⁻ʷ) against `target`).

The target is found by pushing the middle Pauli through the inverse half with the Clifford
conjugation rules below (a Pauli frame), no simulation needed.
"""

from __future__ import annotations

from pydantic import Field

from adapters.ir import Circuit, Op
from jobs.families.base import MAX_QUBITS, Family, FamilyParams
from jobs.families.ops import SeededRng, inverse

NAME = "mirror"
VERSION = 1
MAX_DEPTH = 100
MAX_SEED = 2**32 - 1

_CLIFFORD_1Q = ("id", "h", "s", "sdg", "sx", "sxdg", "x", "y", "z")
_PAULIS = ("id", "x", "y", "z")


class MirrorParams(FamilyParams):
    n_qubits: int = Field(ge=1, le=MAX_QUBITS, description="register width")
    depth: int = Field(ge=1, le=MAX_DEPTH, description="random Clifford layers before the mirror")
    seed: int = Field(ge=0, le=MAX_SEED, description="random seed; the same seed gives the same circuit")


def _layers(params: MirrorParams) -> tuple[list[Op], list[Op]]:
    """(the forward Clifford layers, the middle Pauli layer)."""
    n = params.n_qubits
    rng = SeededRng(params.seed)
    forward: list[Op] = []
    for _ in range(params.depth):
        for q in range(n):
            forward += [Op(rng.choice(_CLIFFORD_1Q), (q,)), Op(rng.choice(_CLIFFORD_1Q), (q,))]
        order = rng.permutation(n)
        for k in range(0, n - 1, 2):
            if rng.random() < 0.75:
                forward.append(Op("cx" if rng.random() < 0.5 else "cz", (order[k], order[k + 1])))
    middle = [Op(p, (q,)) for q in range(n) if (p := rng.choice(_PAULIS)) != "id"]
    return forward, middle


def build(params: MirrorParams) -> Circuit:
    forward, middle = _layers(params)
    ops = forward + [Op("barrier", tuple(range(params.n_qubits)))] + middle + inverse(forward)
    return Circuit(params.n_qubits, tuple(ops), name=f"mirror-{params.n_qubits}x{params.depth}-s{params.seed}")


def _conjugate(op: Op, x: list[int], z: list[int]) -> None:
    """P ← G P G† on the (x, z) bits of a Pauli, ignoring its sign (only the bits decide the output)."""
    match op.name, op.qubits:
        case "h", (q,):
            x[q], z[q] = z[q], x[q]
        case (("s" | "sdg"), (q,)):
            z[q] ^= x[q]
        case (("sx" | "sxdg"), (q,)):
            x[q] ^= z[q]
        case "cx", (c, t):
            x[t] ^= x[c]
            z[c] ^= z[t]
        case "cz", (a, b):
            z[a] ^= x[b]
            z[b] ^= x[a]
        case (("id" | "x" | "y" | "z" | "barrier"), _):
            pass
        case _:
            raise ValueError(f"{op.name} is not a Clifford gate this frame tracks")


def target(params: MirrorParams) -> str:
    """The bitstring the ideal circuit always outputs (qubit 0 leftmost)."""
    forward, middle = _layers(params)
    n = params.n_qubits
    x, z = [0] * n, [0] * n
    for op in middle:
        (q,) = op.qubits
        x[q] ^= op.name in ("x", "y")
        z[q] ^= op.name in ("z", "y")
    for op in inverse(forward):
        _conjugate(op, x, z)
    return "".join(str(b) for b in x)


def ideal(params: MirrorParams) -> dict[str, float]:
    return {target(params): 1.0}


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="Mirror circuit",
    description="Random Clifford layers, a Pauli, then their inverse; ideal: one known target bitstring.",
    params_model=MirrorParams,
    build=build,
    ideal=ideal,
    prefers_noise=True,
    example={"n_qubits": 5, "depth": 4, "seed": 3},
)
