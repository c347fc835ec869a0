"""Small circuit-building helpers shared by families: inverses and multi-controlled Z.

Kept to the IR gate set (`adapters.ir.GATES`) so every family's circuit runs on every adapter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from adapters.ir import Op, ParamRef

_SELF_INVERSE = frozenset({"id", "x", "y", "z", "h", "cx", "cy", "cz", "ch", "swap", "ccx", "cswap", "barrier"})
_DAGGER = {"s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t", "sx": "sxdg", "sxdg": "sx"}
_NEGATE = frozenset({"rx", "ry", "rz", "p", "crx", "cry", "crz", "cp", "rxx", "ryy", "rzz"})


def _neg(p: float | ParamRef) -> float | ParamRef:
    return ParamRef(p.name, -p.coeff) if isinstance(p, ParamRef) else -p


def inverse_op(op: Op) -> list[Op]:
    """Ops whose product is op†."""
    if op.name in _SELF_INVERSE:
        return [op]
    if op.name in _DAGGER:
        return [Op(_DAGGER[op.name], op.qubits)]
    if op.name in _NEGATE:
        return [Op(op.name, op.qubits, tuple(_neg(p) for p in op.params))]
    if op.name == "u":
        theta, phi, lam = op.params
        return [Op("u", op.qubits, (_neg(theta), _neg(lam), _neg(phi)))]
    if op.name == "iswap":
        # iswap² = Z⊗Z, which commutes with iswap, so iswap† = iswap³ = iswap · (Z⊗Z).
        a, b = op.qubits
        return [op, Op("z", (a,)), Op("z", (b,))]
    raise ValueError(f"no inverse known for gate {op.name!r}")


def inverse(ops: Sequence[Op]) -> list[Op]:
    """The ops of the inverse circuit, in order."""
    return [inv for op in reversed(ops) for inv in inverse_op(op)]


def mcz(qubits: Sequence[int]) -> list[Op]:
    """A Z phase on |1…1⟩ of `qubits` (symmetric in its qubits), without ancillas.

    Up to three qubits use cz / H·CCX·H. Wider ones use the phase polynomial
    π·x₁⋯xₙ = π/2ⁿ⁻¹ · Σ_S (−1)^{|S|−1} ⊕_{i∈S} xᵢ over non-empty subsets S, visiting the subsets in
    Gray-code order so each step changes the parity register by one CNOT: about 2ⁿ phase gates and
    2ⁿ CNOTs, fine for the ≤ 8-qubit circuits this serves.
    """
    qs = list(qubits)
    n = len(qs)
    if n == 1:
        return [Op("z", (qs[0],))]
    if n == 2:
        return [Op("cz", (qs[0], qs[1]))]
    if n == 3:
        return [Op("h", (qs[2],)), Op("ccx", (qs[0], qs[1], qs[2])), Op("h", (qs[2],))]
    angle = math.pi / 2 ** (n - 1)
    ops: list[Op] = []
    last: list[int] | None = None
    for i in range(1, 2**n):
        gray = i ^ (i >> 1)
        bits = [(gray >> (n - 1 - j)) & 1 for j in range(n)]
        lead = bits.index(1)  # the qubit that holds the parity of this subset
        if last is not None:
            changed = next(j for j in range(n) if bits[j] != last[j])
            if changed != lead:
                ops.append(Op("cx", (qs[changed], qs[lead])))
            else:  # a new leading qubit: gather the parity of the other members onto it
                ops.extend(Op("cx", (qs[j], qs[lead])) for j in range(lead + 1, n) if bits[j])
        else:  # the first subset is the single last qubit
            pass
        sign = 1 if sum(bits) % 2 else -1
        ops.append(Op("p", (qs[lead],), (sign * angle,)))
        last = bits
    return ops


class SeededRng:
    """Seeded choices that stay the same across Python and numpy versions.

    Seeded families promise "same seed, same circuit" for months (jobs are re-run from their
    params). `random.Random.random()` is guaranteed reproducible for a given seed; the helper
    methods of `random` and numpy's generators are not, so everything here derives from `random()`.
    """

    def __init__(self, seed: int) -> None:
        import random

        self._rng = random.Random(seed)

    def random(self) -> float:
        return self._rng.random()

    def below(self, n: int) -> int:
        return min(int(self._rng.random() * n), n - 1)

    def choice(self, items: Sequence[str]) -> str:
        return items[self.below(len(items))]

    def angle(self) -> float:
        return 2 * math.pi * self._rng.random()

    def permutation(self, n: int) -> list[int]:
        out = list(range(n))
        for i in range(n - 1, 0, -1):  # Fisher–Yates
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out
