"""Reads for benchmarks: runs scoped to the user's teams, their progress, and the comparison table.

Everything is derived from the trials' stored jobs (counts, timestamps, cost, result_meta,
calibration); nothing is cached on the run. Another team's run is NotFound, like a missing one.

Statistics: fidelities get a 95 % CI
from a two-stage bootstrap (trials resampled, and each resampled trial's shots redrawn —
`jobs.metrics.two_stage_bootstrap`), other scores a percentile bootstrap over trials, proportions a
Wilson interval, times median / IQR / p95. Differences against the reference backend pair trial i
with trial i (same circuit, same seed); a difference whose CI spans 0 is `significant: False`. A
bootstrap over trial means alone would call two identical ideal simulators different about one run
in five at 3–10 trials; keeping the shot noise in errs the other way (wide), which is the safe side
for a greyed "no evidence of a difference".
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from adapters import registry
from benchmarks import suites
from benchmarks.models import BenchmarkRun, BenchmarkTrial
from budgets.errors import NotFound
from budgets.models import HARDWARE_TIER, Team
from jobs import metrics
from jobs.families import get_family
from jobs.models import TERMINAL_STATUSES, Job, JobStatus
from jobs.selectors import user_team_ids

RESAMPLES = 2000
FLOOR_SEED = 20_240_527  # the perfect-sampler floor is a Monte Carlo estimate: seeded, so pages agree


# --- runs -----------------------------------------------------------------------------------------
def benchmark_runs_for_user(user: AbstractBaseUser, *, team: Team | None = None) -> QuerySet[BenchmarkRun]:
    """Runs of the user's teams (narrowed to `team`, the top bar's choice, when given), newest first."""
    runs = BenchmarkRun.objects.select_related("team", "experiment", "created_by").filter(
        team_id__in=user_team_ids(user)
    )
    if team is not None:
        runs = runs.filter(team=team)
    return runs.order_by("-created_at")


def benchmark_run_get_for_user(user: AbstractBaseUser, run_id: object) -> BenchmarkRun:
    """One run of the user's teams; NotFound for a missing id, a malformed one or another team's run."""
    try:
        pk = int(run_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pk = None
    run = benchmark_runs_for_user(user).filter(pk=pk).first() if pk is not None else None
    if run is None:
        raise NotFound(f"benchmark run {run_id} not found", field="run")
    return run


def suite_choices() -> list[dict[str, Any]]:
    """The suites with their defaults, for the form, the command and the API."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "description": s.description,
            "backends": list(s.backends),
            "trials": s.trials,
            "shots": s.shots,
            "problems": [p.key for p in s.problems],
        }
        for s in suites.SUITES.values()
    ]


def _trials(run: BenchmarkRun) -> list[BenchmarkTrial]:
    return list(run.trials.select_related("job").order_by("problem", "backend", "trial"))


# --- progress -------------------------------------------------------------------------------------
def run_progress(run: BenchmarkRun, trials: list[BenchmarkTrial] | None = None) -> dict[str, Any]:
    """How far the run is: jobs per status, the derived run status and what it is waiting for.

    Status: ``submitting`` while the run's jobs are still being submitted, ``awaiting_approval`` when
    everything left waits for a sign-off, ``running`` while any
    job is on its way, ``succeeded`` when all are terminal and all succeeded, ``partial`` when all are
    terminal and some did not succeed, ``failed`` when none succeeded.
    """
    trials = _trials(run) if trials is None else trials
    by_status = Counter(t.job.status for t in trials)
    total = len(trials)
    terminal = sum(n for s, n in by_status.items() if s in TERMINAL_STATUSES)
    succeeded = by_status.get(JobStatus.SUCCEEDED, 0)
    awaiting = by_status.get(JobStatus.AWAITING_APPROVAL, 0)
    hardware_waiting = sum(
        1
        for t in trials
        if (t.job.tier or 0) >= HARDWARE_TIER and t.job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    )
    if (run.config or {}).get("submitting"):
        status = "submitting"
    elif total and terminal == total:
        status = "succeeded" if succeeded == total else ("failed" if succeeded == 0 else "partial")
    elif awaiting and awaiting + terminal == total:
        status = "awaiting_approval"
    else:
        status = "running"
    return {
        "status": status,
        "total": total,
        "terminal": terminal,
        "succeeded": succeeded,
        "awaiting_approval": awaiting,
        "hardware_waiting": hardware_waiting,
        "done": bool(total) and terminal == total and not (run.config or {}).get("submitting"),
        "by_status": dict(sorted(by_status.items())),
        "percent": round(100 * terminal / total) if total else 100,
    }


# --- the comparison -------------------------------------------------------------------------------
def _ideal(job: Job, cache: dict[tuple[Any, ...], Mapping[str, float] | None]) -> Mapping[str, float] | None:
    key = (job.family, job.family_version, tuple(sorted((k, str(v)) for k, v in job.params.items())))
    if key not in cache:
        try:
            family = get_family(job.family, job.family_version)
            cache[key] = family.ideal(family.parse(job.params)) if family.ideal is not None else None
        except Exception:  # a family that cannot rebuild its ideal gets no fidelity, not a broken page
            cache[key] = None
    return cache[key]


def _trial_scores(job: Job, score: str, ideal: Mapping[str, float]) -> dict[str, float]:
    counts = job.counts or {}
    n = len(next(iter(ideal)))
    out = {
        "fidelity": metrics.hellinger_fidelity(counts, ideal),
        "normalized_fidelity": metrics.normalized_fidelity(counts, ideal, n),
        "tvd": metrics.tvd(counts, ideal),
        "uniform_floor": metrics.uniform_floor(ideal, n),
        "floor": metrics.perfect_sampler_floor(ideal, job.shots, rng=FLOOR_SEED),
    }
    if score == suites.SCORE_GHZ:
        out["score"] = metrics.ghz_score(counts)
    elif score == suites.SCORE_POLARIZATION:
        out["score"] = metrics.mirror_polarization(metrics.success_probability(counts, ideal), n)
    elif score == suites.SCORE_HEAVY_OUTPUT:
        out["score"] = metrics.heavy_output_probability(counts, ideal, n)
    else:
        out["score"] = metrics.success_probability(counts, ideal)
    return out


def _seconds(job: Job, key: str) -> float | None:
    value = (job.result_meta or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def _queue_wait(job: Job) -> float | None:
    """The portal's queue plus, for hardware, the vendor's (jobs.vendor_queue)."""
    if job.started_at and job.queued_at and job.started_at >= job.queued_at:
        vendor = (job.result_meta or {}).get("vendor_queue_seconds")
        return (job.started_at - job.queued_at).total_seconds() + (vendor if isinstance(vendor, int | float) else 0.0)
    return None


def _finite(value: float | None, digits: int = 6) -> float | None:
    return round(value, digits) if value is not None and math.isfinite(value) else None


def _interval(interval: metrics.Interval) -> dict[str, float | None]:
    return {k: _finite(v) for k, v in interval.as_dict().items()}


def _pinned(jobs: list[Job], caps: Any) -> dict[str, Any]:
    """What the numbers rest on: SDK versions, precision, noise model, calibration — from the jobs."""
    versions: dict[str, set[str]] = defaultdict(set)
    precisions, devices, dates, snapshots, seeds = set(), set(), set(), set(), []
    threads, methods, noises = set(), set(), set()
    for job in jobs:
        for name, version in (job.sdk_versions or {}).items():
            versions[name].add(str(version))
        meta = job.result_meta or {}
        if meta.get("precision"):
            precisions.add(str(meta["precision"]))
        adapter = meta.get("adapter") if isinstance(meta.get("adapter"), dict) else {}
        for key, bucket in (("threads", threads), ("method", methods), ("noise", noises)):
            if adapter.get(key) is not None:
                bucket.add(str(adapter[key]))
        calibration = job.calibration or {}
        for key, bucket in (("device", devices), ("calibration_date", dates), ("snapshot", snapshots)):
            if calibration.get(key):
                bucket.add(str(calibration[key]))
        if job.seed is not None:
            seeds.append(job.seed)
    return {
        "sdk_versions": {name: ", ".join(sorted(v)) for name, v in sorted(versions.items())},
        "precision": ", ".join(sorted(precisions)) or (caps.precision if caps else None),
        "noise": ", ".join(sorted(noises)) or (caps.noise if caps else None),
        "threads": ", ".join(sorted(threads)) or None,
        "method": ", ".join(sorted(methods)) or None,
        "device": ", ".join(sorted(devices)) or None,
        "calibration_date": ", ".join(sorted(dates)) or None,
        "snapshot": ", ".join(sorted(snapshots)) or None,
        "seeds": seeds,
    }


def _capabilities(backend: str) -> Any:
    try:
        return registry.capabilities(backend)
    except KeyError:  # a backend removed since the run: its stored records still show
        return None


def _row(
    backend: str,
    trials: list[BenchmarkTrial],
    score: str,
    ideals: dict[tuple[Any, ...], Mapping[str, float] | None],
    planned: int,
) -> tuple[dict[str, Any], dict[int, tuple[float, np.ndarray]]]:
    """One problem × backend: its statistics, and per trial index its fidelity with shot-noise
    replicates (for the paired differences)."""
    caps = _capabilities(backend)
    jobs = [t.job for t in trials]
    terminal = [j for j in jobs if j.status in TERMINAL_STATUSES]
    done = [t for t in trials if t.job.status == JobStatus.SUCCEEDED and t.job.counts]
    per_trial: dict[int, dict[str, float]] = {}
    shot_noise: dict[int, np.ndarray] = {}  # trial → shot-noise replicates of its fidelity
    for t in done:
        ideal = _ideal(t.job, ideals)
        if ideal:
            per_trial[t.trial] = _trial_scores(t.job, score, ideal)
            shot_noise[t.trial] = metrics.hellinger_resamples(
                t.job.counts, ideal, RESAMPLES, seed=(t.job.seed or 0) + t.trial
            )

    def values(name: str) -> list[float]:
        return [s[name] for s in per_trial.values() if math.isfinite(s[name])]

    fidelities = values("fidelity")
    queue = [w for w in (_queue_wait(j) for j in jobs) if w is not None]
    succeeded = [j for j in jobs if j.status == JobStatus.SUCCEEDED]
    execute = [s for s in (_seconds(j, "execute_seconds") for j in succeeded) if s is not None]
    transpile = [s for s in (_seconds(j, "transpile_seconds") for j in succeeded) if s is not None]
    costs = [j.cost_micros or 0 for j in terminal]
    ex_median, ex_q1, ex_q3 = metrics.median_iqr(execute)
    score_values = values("score")
    score_summary: dict[str, Any] = {"name": score, "title": suites.SCORE_TITLES[score]}
    score_summary.update(_interval(metrics.bootstrap_ci(score_values)))
    if score == suites.SCORE_HEAVY_OUTPUT and score_values:
        passes, mean, sigma = metrics.quantum_volume_pass(score_values)
        score_summary |= {"passes": passes, "sigma": _finite(sigma), "enough_trials": len(score_values) >= 100}
    elif score == suites.SCORE_POLARIZATION and score_values:
        score_summary["passes"] = statistics.fmean(score_values) >= metrics.MIRROR_PASS
    row = {
        "backend": backend,
        "tier": caps.tier if caps else (jobs[0].tier if jobs else None),
        "emulated": any(j.emulated for j in jobs) or bool(caps and caps.emulated),
        "planned": planned,
        "submitted": len(jobs),
        "terminal": len(terminal),
        "succeeded": len([j for j in jobs if j.status == JobStatus.SUCCEEDED]),
        "n": len(fidelities),
        "statuses": dict(Counter(j.status for j in jobs)),
        "fidelity": _interval(
            metrics.two_stage_bootstrap(
                [per_trial[i]["fidelity"] for i in sorted(per_trial)], [shot_noise[i] for i in sorted(per_trial)]
            )
        ),
        "normalized_fidelity": _interval(metrics.bootstrap_ci(values("normalized_fidelity"))),
        "floor": _finite(statistics.fmean(values("floor"))) if per_trial else None,
        "uniform_floor": _finite(statistics.fmean(values("uniform_floor"))) if per_trial else None,
        "tvd": _interval(metrics.bootstrap_ci(values("tvd"))),
        "score": score_summary,
        "band": {"min": _finite(min(fidelities)), "max": _finite(max(fidelities))} if fidelities else None,
        "success_rate": _interval(
            metrics.wilson_interval(len([j for j in terminal if j.status == JobStatus.SUCCEEDED]), len(terminal))
        ),
        "queue_wait_seconds": {
            "median": _finite(metrics.percentile(queue, 50), 3),
            "p95": _finite(metrics.percentile(queue, 95), 3),
        },
        "execute_seconds": {"median": _finite(ex_median, 4), "q1": _finite(ex_q1, 4), "q3": _finite(ex_q3, 4)},
        "transpile_seconds_median": _finite(metrics.percentile(transpile, 50), 4),
        "cost_micros": sum(costs),
        "cost_per_success_micros": (
            round(sum(costs) / len(done)) if done else None
        ),  # failures are paid for too: they count in the numerator
        "pinned": _pinned([t.job for t in done] or jobs, caps),
    }
    return row, {trial: (s["fidelity"], shot_noise[trial]) for trial, s in per_trial.items()}


def default_reference(backends: list[str]) -> str | None:
    """The first noiseless, non-hardware backend of the run (else the first backend)."""
    for backend in backends:
        caps = _capabilities(backend)
        if caps is not None and not caps.noise and caps.tier < HARDWARE_TIER:
            return backend
    return backends[0] if backends else None


def comparison(run: BenchmarkRun, reference: str | None = None) -> dict[str, Any]:
    """The run's comparison: per problem × backend statistics and differences against `reference`.

    JSON-ready (floats, None for "not known yet"). Rows appear for every planned pair as soon as the
    run exists; their numbers fill in as trials finish.
    """
    trials = _trials(run)
    config = run.config or {}
    backends: list[str] = list(config.get("backends") or sorted({t.backend for t in trials}))
    if reference not in backends:
        reference = default_reference(backends)
    skipped = list(config.get("skipped") or [])
    skipped_pairs = {(s["problem"], s["backend"]) for s in skipped}
    by_pair: dict[tuple[str, str], list[BenchmarkTrial]] = defaultdict(list)
    for t in trials:
        by_pair[(t.problem, t.backend)].append(t)
    problems_config = config.get("problems") or [
        {"key": key, "family": "", "params": {}, "score": suites.SCORE_SUCCESS}
        for key in sorted({t.problem for t in trials})
    ]
    ideals: dict[tuple[Any, ...], Mapping[str, float] | None] = {}
    problems = []
    for problem in problems_config:
        key, score = problem["key"], problem.get("score", suites.SCORE_SUCCESS)
        rows, per_trial = [], {}
        for backend in backends:
            if (key, backend) in skipped_pairs and not by_pair.get((key, backend)):
                continue
            row, fidelity_by_trial = _row(
                backend, by_pair.get((key, backend), []), score, ideals, config.get("trials", 0)
            )
            rows.append(row)
            per_trial[backend] = fidelity_by_trial
        differences = []
        ref_trials = per_trial.get(reference or "", {})
        for backend in backends:
            if backend == reference or backend not in per_trial:
                continue
            common = sorted(ref_trials.keys() & per_trial[backend].keys())
            if not common:
                differences.append({"backend": backend, "reference": reference, "n_pairs": 0, "significant": None})
                continue
            mine = per_trial[backend]
            diff = metrics.two_stage_bootstrap(
                [mine[i][0] for i in common],
                [mine[i][1] for i in common],
                reference_estimates=[ref_trials[i][0] for i in common],
                reference_replicates=[ref_trials[i][1] for i in common],
            )
            differences.append(
                {
                    "backend": backend,
                    "reference": reference,
                    "n_pairs": len(common),
                    **_interval(diff),
                    "significant": not diff.spans_zero,
                }
            )
        for row in rows:  # each row carries its own difference, for tables that read row by row
            row["difference"] = next((d for d in differences if d["backend"] == row["backend"]), None)
        n_qubits = next((t.job.n_qubits for pair, ts in by_pair.items() if pair[0] == key for t in ts), None)
        problems.append(
            {
                "key": key,
                "family": problem.get("family", ""),
                "params": problem.get("params", {}),
                "n_qubits": n_qubits,
                "score": score,
                "score_title": suites.SCORE_TITLES.get(score, score),
                "rows": rows,
                "differences": differences,
                "skipped": [s for s in skipped if s["problem"] == key],
            }
        )
    notes = list(suites.SUITES[run.suite].notes) if run.suite in suites.SUITES else []
    if config.get("trials", 0) < metrics.QV_MIN_TRIALS and any(
        p["score"] == suites.SCORE_HEAVY_OUTPUT for p in problems
    ):
        notes.append(
            f"{config.get('trials')} circuits per width: the quantum-volume rule needs ≥ {metrics.QV_MIN_TRIALS};"
            " pass/fail here is an indication, not a QV claim."
        )
    pinned = []
    for backend in backends:
        jobs = [t.job for t in trials if t.backend == backend]
        if jobs:
            done = [j for j in jobs if j.status == JobStatus.SUCCEEDED]
            caps = _capabilities(backend)
            pinned.append(
                {
                    "backend": backend,
                    "tier": caps.tier if caps else jobs[0].tier,
                    "emulated": any(j.emulated for j in jobs) or bool(caps and caps.emulated),
                    **_pinned(done or jobs, caps),
                }
            )
    return {
        "run": {
            "id": run.pk,
            "suite": run.suite,
            "team": run.team.slug,
            "experiment": run.experiment_id,
            "created_by": run.created_by.get_username(),
            "created_at": run.created_at.isoformat(),
            "backends": backends,
            "trials": config.get("trials"),
            "shots": config.get("shots"),
            "seed": config.get("seed"),
        },
        "progress": run_progress(run, trials),
        "reference": reference,
        "problems": problems,
        "backends": pinned,
        "skipped": skipped,
        "notes": notes,
    }
