"""Named benchmark suites: problems × default backends × trials × shots, and the job requests they make.

Pure planning (no database): `plan_suite` expands a suite into one job request per (problem, backend,
trial), skipping — with the reason recorded — every pair whose circuit is wider than the backend.

Trials and seeds. Trial i of a problem runs the *same* circuit with the *same* simulator seed on every
backend, so backends can be compared trial by trial (a paired comparison). Families whose circuit is
random (mirror, quantum volume) get a fresh circuit per trial; that is what their protocols average
over. All seeds are drawn from one generator seeded by the run seed, so they are spread over 31 bits:
Aer seeds shot i with ``seed + i`` and consecutive trial seeds would give nearly identical noisy
samples, and the same run seed reproduces the whole run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters import registry
from budgets.errors import Invalid
from jobs.families import get_family

MAX_TRIALS = 200
MAX_SHOTS = 100_000
SEED_RANGE = 2**31 - 1

# Family-specific score shown beside the fidelity.
SCORE_GHZ = "ghz"
SCORE_POLARIZATION = "polarization"
SCORE_HEAVY_OUTPUT = "heavy_output"
SCORE_SUCCESS = "success"
SCORE_TITLES = {
    SCORE_GHZ: "GHZ score (SupermarQ)",
    SCORE_POLARIZATION: "mirror polarisation (pass ≥ 1/e)",
    SCORE_HEAVY_OUTPUT: "heavy-output probability (QV pass: mean − 2σ > 2/3 over ≥ 100 circuits)",
    SCORE_SUCCESS: "success probability (the secret)",
}


@dataclass(frozen=True)
class Problem:
    """One problem of a suite. `random_circuit_param` names the family param that takes a fresh
    circuit seed per trial (mirror, quantum volume); None for fixed circuits."""

    key: str
    family: str
    params: Mapping[str, Any]
    score: str
    random_circuit_param: str | None = None

    def params_for(self, circuit_seed: int) -> dict[str, Any]:
        params = dict(self.params)
        if self.random_circuit_param:
            params[self.random_circuit_param] = circuit_seed
        return params

    def n_qubits(self) -> int:
        """The circuit width (the same for every trial's circuit seed)."""
        family = get_family(self.family)
        return family.build(family.parse(self.params_for(0))).n_qubits


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    description: str
    problems: tuple[Problem, ...]
    backends: tuple[str, ...]
    trials: int
    shots: int
    notes: tuple[str, ...] = ()


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            name="ghz-ladder",
            title="GHZ ladder",
            description="GHZ states of growing width: how fast entanglement fidelity falls with size.",
            problems=tuple(Problem(f"ghz-{n}", "ghz", {"n_qubits": n}, SCORE_GHZ) for n in (3, 5, 8)),
            backends=("qsim", "qsim-noisy", "aer-noisy:fake_manila", "ibm:fake_manila"),
            trials=5,
            shots=1000,
        ),
        Suite(
            name="mirror",
            title="Mirror circuits",
            description="Random Clifford layers, a Pauli, then their inverse; a fresh circuit per trial.",
            problems=tuple(
                Problem(f"mirror-{n}x4", "mirror", {"n_qubits": n, "depth": 4}, SCORE_POLARIZATION, "seed")
                for n in (3, 5)
            ),
            backends=("qsim", "qsim-noisy", "aer-noisy:fake_manila"),
            trials=5,
            shots=1000,
        ),
        Suite(
            name="quantum-volume",
            title="Quantum volume",
            description="Square random model circuits n = 3..5; heavy-output probability per circuit.",
            problems=tuple(
                Problem(f"qv-{n}", "quantum_volume", {"n_qubits": n}, SCORE_HEAVY_OUTPUT, "seed") for n in (3, 4, 5)
            ),
            backends=("qsim", "qsim-noisy", "aer-noisy:fake_manila"),
            trials=20,
            shots=500,
        ),
        Suite(
            name="bv",
            title="Bernstein–Vazirani",
            description="Recover a hidden bitstring with one oracle query (one ancilla qubit).",
            problems=tuple(
                Problem(f"bv-{s}", "bernstein_vazirani", {"secret": s}, SCORE_SUCCESS) for s in ("101", "1011", "11011")
            ),
            backends=("qsim", "qsim-noisy", "aer-noisy:fake_manila"),
            trials=5,
            shots=1000,
        ),
    )
}


def get_suite(name: str) -> Suite:
    suite = SUITES.get(name)
    if suite is None:
        raise Invalid(f"unknown suite {name!r}; known: {', '.join(SUITES)}", field="suite", code="unknown_suite")
    return suite


@dataclass(frozen=True)
class PlannedTrial:
    problem: Problem
    backend: str
    trial: int
    params: dict[str, Any]
    seed: int  # the simulator seed, shared by every backend for this (problem, trial)
    tier: int
    shots: int


@dataclass
class Plan:
    suite: Suite
    backends: list[str]
    trials: int
    shots: int
    seed: int
    planned: list[PlannedTrial] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {problem, backend, reason}


def _check_backends(backends: list[str]) -> list[str]:
    if not backends:
        raise Invalid("name at least one backend", field="backends")
    unique = list(dict.fromkeys(b.strip() for b in backends if b.strip()))
    for backend in unique:
        try:
            registry.capabilities(backend)
        except registry.UnknownBackend as exc:
            raise Invalid(str(exc), field="backends", code="unknown_backend") from None
    return unique


def plan_suite(
    suite: Suite,
    *,
    backends: list[str] | None = None,
    trials: int | None = None,
    shots: int | None = None,
    seed: int | None = None,
) -> Plan:
    """Expand `suite` into trials; problems wider than a backend are skipped with the reason."""
    chosen = _check_backends(list(backends) if backends else list(suite.backends))
    n_trials = suite.trials if trials is None else trials
    n_shots = suite.shots if shots is None else shots
    if not 1 <= n_trials <= MAX_TRIALS:
        raise Invalid(f"trials must be between 1 and {MAX_TRIALS}", field="trials")
    if not 1 <= n_shots <= MAX_SHOTS:
        raise Invalid(f"shots must be between 1 and {MAX_SHOTS}", field="shots")
    run_seed = int(np.random.default_rng().integers(SEED_RANGE)) if seed is None else int(seed)
    plan = Plan(suite=suite, backends=chosen, trials=n_trials, shots=n_shots, seed=run_seed)
    rng = np.random.default_rng(run_seed)
    caps = {b: registry.capabilities(b) for b in chosen}
    for problem in suite.problems:
        # Drawn whether or not a backend is skipped, so a narrower backend list keeps the same seeds.
        seeds = rng.integers(SEED_RANGE, size=(n_trials, 2))
        width = problem.n_qubits()
        for backend in chosen:
            if width > caps[backend].max_qubits:
                plan.skipped.append(
                    {
                        "problem": problem.key,
                        "backend": backend,
                        "reason": f"needs {width} qubits; {backend} takes {caps[backend].max_qubits}",
                    }
                )
                continue
            for trial in range(n_trials):
                circuit_seed, sim_seed = (int(s) for s in seeds[trial])
                plan.planned.append(
                    PlannedTrial(
                        problem=problem,
                        backend=backend,
                        trial=trial,
                        params=problem.params_for(circuit_seed),
                        seed=sim_seed,
                        tier=caps[backend].tier,
                        shots=n_shots,
                    )
                )
    return plan


def job_request(trial: PlannedTrial, *, suite: str, experiment_id: int, run_id: int) -> dict[str, Any]:
    """The job contract for one trial: pinned backend, batch priority, never served from the cache."""
    return {
        "experiment": experiment_id,
        "family": trial.problem.family,
        "params": trial.params,
        "shots": trial.shots,
        "backend": trial.backend,
        "max_tier": trial.tier,
        "priority": "batch",
        "no_cache": True,  # a benchmark must execute; a cached result measures nothing
        "labels": [f"suite:{suite}", f"run:{run_id}", f"problem:{trial.problem.key}", f"trial:{trial.trial}"],
    }
