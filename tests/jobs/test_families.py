"""Circuit families: the registry, params validation, and ideal distributions checked against an
independent simulation (qiskit's Statevector of the built circuit), never assumed."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from pydantic import ValidationError
from qiskit.circuit.library import zz_feature_map
from qiskit.quantum_info import SparsePauliOp, StabilizerState, Statevector

from adapters.convert import to_qiskit
from adapters.ir import Circuit, canonical_json
from jobs.contract import ContractError
from jobs.families import FAMILIES, family_names, get_family, qaoa_maxcut, quantum_volume, vqe_ising
from jobs.families import grover as grover_family
from jobs.families import mirror as mirror_family
from jobs.families.base import Family, FamilyParams

DESIGN_NAMES = [
    "bell",
    "ghz",
    "qft",
    "grover",
    "bernstein_vazirani",
    "qaoa_maxcut",
    "vqe_ising",
    "zz_feature_map",
    "random",
    "quantum_volume",
    "mirror",
    "openqasm",
]

# Params whose ideal is checked against qiskit: each family's example and some other shapes.
IDEAL_CASES = [
    ("bell", {"state": "psi+"}),
    ("bell", {"state": "phi-"}),
    ("ghz", {"n_qubits": 6}),
    ("qft", {"n_qubits": 4, "input": "0110"}),
    ("qft", {"n_qubits": 5, "input": "10110", "inverse": True}),
    ("qft", {"n_qubits": 5, "input": "10110", "roundtrip": True}),
    ("qft", {"n_qubits": 4, "input": "1001", "inverse": True, "roundtrip": True}),
    ("grover", {"n_qubits": 2, "marked": "10"}),
    ("grover", {"n_qubits": 4, "marked": "0111"}),
    ("grover", {"n_qubits": 5, "marked": "01100", "iterations": 1}),
    ("grover", {"n_qubits": 6, "marked": "111010"}),
    ("bernstein_vazirani", {"secret": "110101"}),
    (
        "qaoa_maxcut",
        {
            "n_nodes": 5,
            "edges": [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [0, 2]],
            "p": 2,
            "gammas": [0.4, 0.8],
            "betas": [0.6, 0.3],
        },
    ),  # fmt: skip
    ("vqe_ising", {"n_qubits": 3, "layers": 2, "angles": [0.2 * i - 0.5 for i in range(9)], "h": 0.7}),
    ("zz_feature_map", {"n_qubits": 4, "x": [0.2, 1.1, -0.4, 2.5], "reps": 2}),
    ("random", {"n_qubits": 6, "depth": 10, "seed": 2024}),
    ("quantum_volume", {"n_qubits": 5, "seed": 17}),
    ("mirror", {"n_qubits": 6, "depth": 8, "seed": 77}),
    (
        "openqasm",
        {
            "qasm": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[2];\nh q[0];\n'
            "cry(0.9) q[0],q[1];\nx q[2];\nmeasure q[1] -> c[0];\nmeasure q[2] -> c[1];\n"
        },
    ),  # fmt: skip
] + [(name, dict(versions[max(versions)].example)) for name, versions in FAMILIES.items()]


def latest(name: str) -> Family:
    return get_family(name)


def build(name: str, params: dict) -> tuple[Family, FamilyParams, Circuit]:
    family = latest(name)
    parsed = family.parse(params)
    return family, parsed, family.build(parsed)


def qiskit_distribution(circuit: Circuit) -> dict[str, float]:
    """Exact probabilities from qiskit, re-keyed to the portal's order (measured qubit 0 leftmost)."""
    state = Statevector(to_qiskit(circuit, measure=False))
    probs = state.probabilities_dict(qargs=list(circuit.measured))  # qargs[0] is the rightmost character
    return {key[::-1]: p for key, p in probs.items() if p > 1e-10}


def assert_same_distribution(a: dict[str, float], b: dict[str, float]) -> None:
    keys = {k for k, p in a.items() if p > 1e-9} | {k for k, p in b.items() if p > 1e-9}
    assert keys, "empty distribution"
    assert max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys) < 1e-9
    assert sum(a.values()) == pytest.approx(1.0, abs=1e-9)


# --- registry ----------------------------------------------------------------------------------
def test_registry_offers_every_family_the_design_names() -> None:
    assert family_names() == DESIGN_NAMES


def test_get_family_without_version_gives_the_latest() -> None:
    assert get_family("ghz") is FAMILIES["ghz"][max(FAMILIES["ghz"])]
    assert get_family("ghz", 1).version == 1


def test_unknown_family_is_refused_naming_family_and_the_allowed_names() -> None:
    with pytest.raises(ContractError) as info:
        get_family("teleportation")
    assert info.value.field == "family"
    assert "teleportation" in info.value.message
    assert all(name in info.value.message for name in DESIGN_NAMES)


def test_unknown_version_is_refused_naming_family_version_and_the_allowed_versions() -> None:
    with pytest.raises(ContractError) as info:
        get_family("ghz", 7)
    assert info.value.field == "family_version"
    assert "family_version must be 1 for ghz" in info.value.message


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_every_family_is_versioned_documented_and_has_a_valid_example(name: str) -> None:
    family = latest(name)
    assert family.name == name
    assert family.version == 1
    assert family.title and family.description
    for field_name, info in family.params_model.model_fields.items():
        assert info.description, f"{name}.{field_name} has no description"
    circuit = family.build(family.parse(family.example))
    assert circuit.is_bound and circuit.ops


def test_only_the_noise_benchmarks_prefer_noise() -> None:
    assert {name for name in DESIGN_NAMES if latest(name).prefers_noise} == {"mirror", "quantum_volume", "random"}


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("ghz", {"n_qubits": 1}, "n_qubits"),
        ("ghz", {"n_qubits": 4, "width": 2}, "width"),
        ("qft", {"n_qubits": 3, "input": "0101"}, "input"),
        ("qft", {"n_qubits": 3, "input": "0a1"}, "input"),
        ("grover", {"n_qubits": 3, "marked": "10"}, "marked"),
        ("grover", {"n_qubits": 12, "marked": "0" * 12}, "n_qubits"),
        ("bernstein_vazirani", {"secret": "10x1"}, "secret"),
        ("qaoa_maxcut", {"n_nodes": 3, "edges": [[0, 3]], "gammas": [0.1], "betas": [0.1]}, "edges"),
        ("qaoa_maxcut", {"n_nodes": 3, "edges": [[0, 1], [1, 0]], "gammas": [0.1], "betas": [0.1]}, "edges"),
        ("qaoa_maxcut", {"n_nodes": 3, "edges": [[0, 1]], "p": 2, "gammas": [0.1], "betas": [0.1, 0.2]}, "gammas"),
        ("vqe_ising", {"n_qubits": 3, "layers": 1, "angles": [0.1] * 5}, "angles"),
        ("vqe_ising", {"n_qubits": 2, "layers": 1, "angles": [0.1, 0.2, float("nan"), 0.4]}, "angles"),
        ("zz_feature_map", {"n_qubits": 3, "x": [0.1, 0.2]}, "x"),
        ("random", {"n_qubits": 3, "depth": 2, "seed": -1}, "seed"),
        ("mirror", {"n_qubits": 3, "depth": 0, "seed": 1}, "depth"),
        ("openqasm", {"qasm": ""}, "qasm"),
    ],
)
def test_bad_params_are_refused_naming_the_param(name: str, params: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        latest(name).parse(params)
    assert info.value.errors()[0]["loc"][0] == field


# --- ideal distributions ------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), IDEAL_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(IDEAL_CASES)])
def test_ideal_equals_an_exact_qiskit_simulation_of_the_built_circuit(name: str, params: dict) -> None:
    family, parsed, circuit = build(name, params)
    assert family.ideal is not None
    ideal = family.ideal(parsed)
    assert ideal is not None
    assert all(len(key) == len(circuit.measured) for key in ideal)
    assert_same_distribution(dict(ideal), qiskit_distribution(circuit))


@pytest.mark.parametrize("n", [2, 3, 9, 40, 156])
def test_ghz_ideal_is_half_zeros_half_ones(n: int) -> None:
    family, parsed, circuit = build("ghz", {"n_qubits": n})
    assert family.ideal(parsed) == {"0" * n: 0.5, "1" * n: 0.5}
    assert circuit.n_qubits == n


@pytest.mark.parametrize("secret", ["1", "0000", "101101", "1" * 12])
def test_bernstein_vazirani_returns_its_secret(secret: str) -> None:
    family, parsed, circuit = build("bernstein_vazirani", {"secret": secret})
    assert family.ideal(parsed) == {secret: 1.0}
    assert qiskit_distribution(circuit) == pytest.approx({secret: 1.0})


@pytest.mark.parametrize(("n", "depth", "seed"), [(1, 3, 0), (4, 5, 1), (7, 6, 2), (8, 10, 12345)])
def test_mirror_returns_its_target(n: int, depth: int, seed: int) -> None:
    family, parsed, circuit = build("mirror", {"n_qubits": n, "depth": depth, "seed": seed})
    target = mirror_family.target(parsed)
    assert family.ideal(parsed) == {target: 1.0}
    assert qiskit_distribution(circuit) == pytest.approx({target: 1.0})


def test_mirror_target_holds_at_device_width_by_stabilizer_simulation() -> None:
    """120 qubits is beyond any statevector; the circuit is Clifford, so qiskit's stabilizer state checks it."""
    _, parsed, circuit = build("mirror", {"n_qubits": 120, "depth": 6, "seed": 5})
    target = mirror_family.target(parsed)
    probs = StabilizerState(to_qiskit(circuit, measure=False)).probabilities_dict()
    assert probs == {target[::-1]: 1.0}
    assert "1" in target  # the random Pauli layer makes the target non-trivial


def test_mirror_targets_differ_between_seeds() -> None:
    targets = {mirror_family.target(mirror_family.MirrorParams(n_qubits=10, depth=3, seed=s)) for s in range(8)}
    assert len(targets) > 1


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 8])
def test_grover_with_optimal_iterations_finds_the_marked_state(n: int) -> None:
    marked = format((5 * n + 3) % 2**n, f"0{n}b")
    family, parsed, _ = build("grover", {"n_qubits": n, "marked": marked})
    ideal = family.ideal(parsed)
    assert max(ideal, key=ideal.get) == marked
    assert ideal[marked] > 0.9


def test_grover_at_eight_qubits_matches_simulation() -> None:
    _, parsed, circuit = build("grover", {"n_qubits": 8, "marked": "10110001"})
    assert grover_family.iterations(parsed) == 12
    assert_same_distribution(grover_family.ideal(parsed), qiskit_distribution(circuit))


def test_qft_roundtrip_ideal_is_the_input_and_plain_qft_is_uniform() -> None:
    family, parsed, _ = build("qft", {"n_qubits": 5, "input": "10011", "roundtrip": True})
    assert family.ideal(parsed) == {"10011": 1.0}
    family, parsed, _ = build("qft", {"n_qubits": 3, "input": "101"})
    assert family.ideal(parsed) == pytest.approx({format(i, "03b"): 1 / 8 for i in range(8)})


def test_qft_transforms_basis_states_like_the_textbook_dft() -> None:
    """QFT|x⟩ = Σ_k e^{2πi xk/N}|k⟩/√N with qubit 0 the most significant bit."""
    _, _, circuit = build("qft", {"n_qubits": 3, "input": "011"})
    state = Statevector(to_qiskit(circuit, measure=False)).reverse_qargs().data
    expected = np.exp(2j * np.pi * 3 * np.arange(8) / 8) / math.sqrt(8)
    assert abs(np.vdot(expected, state)) == pytest.approx(1.0)


def test_zz_feature_map_matches_qiskits_zz_feature_map() -> None:
    x = [0.3, 1.7, -0.9]
    _, _, circuit = build("zz_feature_map", {"n_qubits": 3, "x": x, "reps": 2})
    reference = zz_feature_map(3, reps=2, entanglement="full")
    reference = reference.assign_parameters(dict(zip(reference.parameters, x, strict=True)))
    ours = Statevector(to_qiskit(circuit, measure=False))
    assert abs(np.vdot(ours.data, Statevector(reference).data)) == pytest.approx(1.0)


def test_qaoa_example_beats_random_guessing_and_knows_the_max_cut() -> None:
    family, parsed, _ = build("qaoa_maxcut", dict(latest("qaoa_maxcut").example))
    assert qaoa_maxcut.max_cut(parsed) == 4
    assert qaoa_maxcut.expected_cut(parsed, family.ideal(parsed)) > 2.5  # a random partition cuts 2 of 4
    assert qaoa_maxcut.cut_value(parsed, "0101") == 4


def test_qaoa_template_binds_to_the_built_circuit() -> None:
    parsed = qaoa_maxcut.QaoaMaxcutParams.model_validate(dict(latest("qaoa_maxcut").example))
    template, values = qaoa_maxcut.template(parsed)
    assert template.parameters == {"gamma_0", "beta_0"}
    assert template.bind(values) == qaoa_maxcut.build(parsed)


VQE_PARAMS = {"n_qubits": 4, "layers": 2, "angles": [0.37 * i - 1.1 for i in range(12)], "h": 0.8, "J": 1.3}


def test_vqe_hamiltonian_matches_qiskit_expectation_of_the_ansatz() -> None:
    _, parsed, circuit = build("vqe_ising", VQE_PARAMS)
    # qiskit Pauli labels put qubit 0 rightmost: reverse ours.
    op = SparsePauliOp.from_list([(label[::-1], coeff) for coeff, label in vqe_ising.hamiltonian(parsed)])
    expected = Statevector(to_qiskit(circuit, measure=False)).expectation_value(op).real
    assert vqe_ising.ideal_energy(parsed) == pytest.approx(expected, abs=1e-9)


def test_vqe_energy_from_z_and_x_basis_distributions_is_the_exact_energy() -> None:
    _, parsed, _ = build("vqe_ising", VQE_PARAMS)
    z = qiskit_distribution(vqe_ising.measurement_circuit(parsed, "Z"))
    x = qiskit_distribution(vqe_ising.measurement_circuit(parsed, "X"))
    assert vqe_ising.energy(parsed, z, x) == pytest.approx(vqe_ising.ideal_energy(parsed), abs=1e-9)
    # Counts work as well as probabilities.
    assert vqe_ising.energy(parsed, {k: 1000 * v for k, v in z.items()}, x) == pytest.approx(
        vqe_ising.energy(parsed, z, x)
    )


def test_vqe_ground_energy_bounds_every_ansatz_energy() -> None:
    _, parsed, _ = build("vqe_ising", VQE_PARAMS)
    ground = vqe_ising.ground_energy(parsed)
    assert ground < vqe_ising.ideal_energy(parsed)
    # Two spins: H = −J·ZZ − h·(XI + IX) has ground energy −√(J² + 4h²), −√5 at J = h = 1.
    two = vqe_ising.VqeIsingParams(n_qubits=2, layers=1, angles=[0.0] * 4, h=1.0, J=1.0)
    assert vqe_ising.ground_energy(two) == pytest.approx(-math.sqrt(5))


def test_quantum_volume_heavy_outputs_are_half_the_outcomes_and_the_ideal_passes() -> None:
    family, parsed, _ = build("quantum_volume", {"n_qubits": 5, "seed": 3})
    heavy = quantum_volume.heavy_outputs(parsed)
    assert len(heavy) == 2**5 // 2
    ideal = family.ideal(parsed)
    assert min(ideal[b] for b in heavy) > max(p for b, p in ideal.items() if b not in heavy)
    assert quantum_volume.heavy_output_probability(parsed, ideal) > 2 / 3
    uniform = {format(i, "05b"): 1 for i in range(32)}
    assert quantum_volume.heavy_output_probability(parsed, uniform) == pytest.approx(0.5)


# --- seeded families are reproducible -----------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("random", {"n_qubits": 5, "depth": 6}),
        ("quantum_volume", {"n_qubits": 4}),
        ("mirror", {"n_qubits": 5, "depth": 4}),
    ],
)
def test_same_seed_same_circuit_other_seed_other_circuit(name: str, params: dict) -> None:
    circuits = [build(name, {**params, "seed": seed})[2].to_json() for seed in (1, 1, 2)]
    assert circuits[0] == circuits[1]
    assert circuits[0]["ops"] != circuits[2]["ops"]


# Pinned digests of seeded circuits: a jobs re-run months later must get the same circuit. If a
# builder change breaks this, add a new family version instead of editing the old one.
PINNED = {
    "random": (
        {"n_qubits": 4, "depth": 5, "seed": 7},
        "f181d50c7af3ba53c73bc3fe4ec5ae86af4033d709ecc7184719e8809ed7d3d4",
    ),
    "quantum_volume": ({"n_qubits": 4, "seed": 11}, "752dbd74ac0e433923039c36f989612e5633dc86338d797a67944ec86cd9b2b5"),
    "mirror": (
        {"n_qubits": 5, "depth": 4, "seed": 3},
        "77e8bcc2eaf63d43b809c5b6f8a26e0291530250d4fa6c39836a16ff8f941f33",
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_seeded_circuits_are_stable_across_releases(name: str) -> None:
    params, digest = PINNED[name]
    circuit = build(name, params)[2]
    assert hashlib.sha256(canonical_json(circuit.to_json()).encode()).hexdigest() == digest
