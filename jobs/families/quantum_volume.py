"""Quantum-volume model circuits (Cross et al. 2019): n layers of random two-qubit blocks on a random
pairing of the qubits, and the heavy outputs a backend should hit more than 2/3 of the time.

Each block is a random SU(4) in KAK form — random one-qubit unitaries (Haar on SU(2)) around
exp(−i(a XX + b YY + c ZZ)/2) with random a, b, c — rather than an exactly Haar-random SU(4),
because the IR has no arbitrary-unitary gate; the heavy-output statistics are what matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import Field

from adapters.ir import Circuit, Op
from jobs import metrics
from jobs.families.base import Family, FamilyParams
from jobs.families.ops import SeededRng
from jobs.families.statevector import MAX_SIM_QUBITS, as_distribution, probabilities

NAME = "quantum_volume"
VERSION = 1
MAX_SEED = 2**32 - 1


class QuantumVolumeParams(FamilyParams):
    n_qubits: int = Field(ge=2, le=MAX_SIM_QUBITS, description="width and depth of the model circuit")
    seed: int = Field(ge=0, le=MAX_SEED, description="random seed; the same seed gives the same circuit")


def _haar_u(rng: SeededRng, q: int) -> Op:
    # Haar on SU(2): |⟨0|U|0⟩|² = cos²(θ/2) is uniform on [0, 1]; φ and λ are uniform.
    theta = 2 * math.acos(math.sqrt(rng.random()))
    return Op("u", (q,), (theta, rng.angle(), rng.angle()))


def build(params: QuantumVolumeParams) -> Circuit:
    n = params.n_qubits
    rng = SeededRng(params.seed)
    ops: list[Op] = []
    for _ in range(n):
        order = rng.permutation(n)
        for k in range(0, n - 1, 2):
            a, b = order[k], order[k + 1]
            ops += [_haar_u(rng, a), _haar_u(rng, b)]
            ops += [Op(g, (a, b), (rng.angle() / 2,)) for g in ("rxx", "ryy", "rzz")]
            ops += [_haar_u(rng, a), _haar_u(rng, b)]
    return Circuit(n, tuple(ops), name=f"qv-{n}-s{params.seed}")


def ideal(params: QuantumVolumeParams) -> dict[str, float]:
    return as_distribution(probabilities(build(params)), params.n_qubits)


def heavy_outputs(params: QuantumVolumeParams) -> frozenset[str]:
    """Bitstrings whose ideal probability is above the median over all 2ⁿ outcomes."""
    return metrics.heavy_outputs(ideal(params), params.n_qubits)


def heavy_output_probability(params: QuantumVolumeParams, counts: Mapping[str, float]) -> float:
    """The share of counts that landed on heavy outputs; QV passes when its mean exceeds 2/3 (+2σ)."""
    return metrics.heavy_output_probability(counts, ideal(params), params.n_qubits)


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="Quantum volume",
    description="Square random model circuit; ideal: exact distribution, with heavy outputs for HOP.",
    params_model=QuantumVolumeParams,
    build=build,
    ideal=ideal,
    prefers_noise=True,
    example={"n_qubits": 4, "seed": 11},
)
