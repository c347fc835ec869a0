"""Test circuits built directly in IR, each with its exact ideal distribution (qubit 0 leftmost)."""

from __future__ import annotations

import math
import random

from adapters.ir import Circuit, Op, ops_from
from jobs.metrics import hellinger_fidelity  # noqa: F401 - the one the portal uses


def asymmetric(n: int = 3) -> tuple[Circuit, dict[str, float]]:
    """X on qubit 0 only: every shot must read 1 followed by zeros."""
    return Circuit(n, ops_from([("x", [0])]), name="x_on_0"), {"1" + "0" * (n - 1): 1.0}


def ghz(n: int) -> tuple[Circuit, dict[str, float]]:
    ops = [("h", [0])] + [("cx", [i, i + 1]) for i in range(n - 1)]
    return Circuit(n, ops_from(ops), name=f"ghz{n}"), {"0" * n: 0.5, "1" * n: 0.5}


def qft_ops(n: int) -> list[Op]:
    """Textbook QFT with qubit 0 as the most significant bit, final swaps included."""
    ops: list[Op] = []
    for j in range(n):
        ops.append(Op("h", (j,)))
        for k in range(j + 1, n):
            ops.append(Op("cp", (k, j), (math.pi / 2 ** (k - j),)))
    for j in range(n // 2):
        ops.append(Op("swap", (j, n - 1 - j)))
    return ops


def inverse(ops: list[Op]) -> list[Op]:
    out = []
    for op in reversed(ops):
        match op.name:
            case "u":
                theta, phi, lam = op.params
                out.append(Op("u", op.qubits, (-theta, -lam, -phi)))
            case "cp" | "p" | "rx" | "ry" | "rz" | "rzz":
                out.append(Op(op.name, op.qubits, (-op.params[0],)))
            case "s":
                out.append(Op("sdg", op.qubits))
            case "sdg":
                out.append(Op("s", op.qubits))
            case _:  # h, x, cx, cz, swap: self-inverse
                out.append(op)
    return out


def basis_prep(n: int, value: int) -> list[Op]:
    bits = format(value, f"0{n}b")
    return [Op("x", (q,)) for q, b in enumerate(bits) if b == "1"]


def qft_of_basis_state(n: int, value: int) -> tuple[Circuit, dict[str, float]]:
    """QFT|value⟩ has equal magnitudes on every outcome: a uniform distribution."""
    ops = basis_prep(n, value) + qft_ops(n)
    return Circuit(n, tuple(ops), name=f"qft{n}_{value}"), {format(y, f"0{n}b"): 1 / 2**n for y in range(2**n)}


def inverse_qft_recovers(n: int, value: int) -> tuple[Circuit, dict[str, float]]:
    """Prepare the Fourier state of `value` as a product state, undo the QFT: `value` comes back exactly."""
    prep = []
    for j in range(n):
        prep += [Op("h", (j,)), Op("p", (j,), (2 * math.pi * value / 2 ** (j + 1),))]
    return Circuit(n, tuple(prep + inverse(qft_ops(n))), name=f"iqft{n}_{value}"), {format(value, f"0{n}b"): 1.0}


def bernstein_vazirani(secret: str) -> tuple[Circuit, dict[str, float]]:
    """BV with an ancilla on the last qubit; the data qubits read the secret (qubit 0 = secret[0])."""
    n = len(secret)
    ops = [("x", [n])] + [("h", [q]) for q in range(n + 1)]
    ops += [("cx", [q, n]) for q, bit in enumerate(secret) if bit == "1"]
    ops += [("h", [q]) for q in range(n)]
    return Circuit(n + 1, ops_from(ops), measure=tuple(range(n)), name=f"bv_{secret}"), {secret: 1.0}


def mirror(n: int, target: str, *, clifford: bool, depth: int = 4, seed: int = 7) -> tuple[Circuit, dict[str, float]]:
    """Random layers L, then L⁻¹, then X where `target` has a 1: the circuit returns `target`."""
    rng = random.Random(seed)
    layers: list[Op] = []
    for _ in range(depth):
        for q in range(n):
            if clifford:
                layers.append(Op(rng.choice(["h", "s", "sdg", "x"]), (q,)))
            else:
                layers.append(Op("u", (q,), tuple(rng.uniform(-math.pi, math.pi) for _ in range(3))))
        qubits = list(range(n))
        rng.shuffle(qubits)
        for a, b in zip(qubits[::2], qubits[1::2], strict=False):
            layers.append(Op("cx", (a, b)))
    ops = layers + inverse(layers) + [Op("x", (q,)) for q, bit in enumerate(target) if bit == "1"]
    return Circuit(n, tuple(ops), name=f"mirror{n}"), {target: 1.0}


def assert_counts_match(counts: dict[str, int], ideal: dict[str, float], shots: int) -> None:
    """Every outcome within a 5-sigma multinomial bound of the ideal; impossible outcomes never seen."""
    assert sum(counts.values()) == shots
    width = len(next(iter(ideal)))
    assert all(len(k) == width for k in counts), f"bitstrings not {width} wide: {list(counts)[:5]}"
    for outcome in set(counts) | set(ideal):
        p = ideal.get(outcome, 0.0)
        seen = counts.get(outcome, 0)
        sigma = math.sqrt(shots * p * (1 - p))
        assert abs(seen - shots * p) <= 5 * sigma + 1e-9, (
            f"{outcome}: saw {seen}, expected {shots * p:.1f} ± {sigma:.1f}"
        )
