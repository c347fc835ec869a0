"""Orchestration latency: the portal's submit service + workers against a bare django-q2 task.

What it measures, in one run, on one real `qcluster` (the interactive cluster, started here as a
subprocess with the settings `serve` uses):

  (a) stock     the issue's baseline: a bare django-q2 task that runs a Bell circuit (1000 shots) on
                qsim, enqueued through django-q2's stock ORM broker, on the same cluster and settings.
                The cluster finds it by its poll, as plain django-q2 does: `--poll` seconds (default
                the portal's `Q_POLL`, 50 ms; django-q2's own default is 200 ms, and the issue's fastest
                ORM figure is at 10 ms, where django-q2 polls the database 100 times a second).
  (a') bare     the same task enqueued with `async_task(..., cluster="interactive")`, i.e. through the
                portal's own broker (NOTIFY at commit on PostgreSQL): not plain django-q2, but the floor
                that any orchestration on the portal's broker pays. Reported against, without a goal.
  (b) portal    the same Bell job through `jobs.services.job_submit` (validate, assemble, select,
                hold, queue on commit) and the worker (`jobs.tasks.run_job`: claim, run, store, stage
                timeline, settle): the path every user's job takes.
  (c) batches   with `--batch K`, throughput only: the same jobs through `jobs.services.job_submit_batch`
                in batches of K (a notebook's parameter sweep), each batch one transaction.

  latency       closed loop: submit one, wait until the client can read its result, repeat
                (`--latency-n`, default 100, per path, the paths interleaved job by job); p50/p95 of
                submit → result as the client sees it (every path shares the same 5 ms polling loop).
  throughput    open loop: submit `--n` (default 500) as fast as one client can, then wait for all;
                jobs/s = n / (last result − first submit); `--rounds` (default 3) of every path in
                turn, the median of each.
  22 qubits     a random depth-20 circuit, 1000 shots, end to end through the portal (submit → result
                stored, by the worker's finish time; median of `--big-repeats`) against a direct
                `qsimcirq.QSimSimulator.run` of the same circuit in this process with the same thread
                count, the two interleaved.
  cache hit     the same 22-qubit job submitted again without `no_cache`: served from the stored result.

Goals (the issue's): (b)/(a) p50 latency ≤ 1.3; (b)/(a) throughput ≥ 0.6; 22-qubit end to end ≤ 1.05 ×
direct; cache hit ≤ 0.05 × the executed job. The same ratios against (a') are printed without a goal;
with `--batch K`, (c)'s throughput against (a), (a') and (b).

It needs its own database (it migrates it and adds a "bench" team, user, budget and experiment), e.g.
a dedicated PostgreSQL database:

    createdb -h 127.0.0.1 -U postgres hp_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hp_bench HYBRIDPORTAL_VAR_DIR=/tmp/hp-bench \\
        .venv/bin/python benchmarks/perf/orchestration_latency.py [--n 500] [--latency-n 100] [--batch 50]

or SQLite in a scratch var dir (no DATABASE_URL):

    HYBRIDPORTAL_VAR_DIR=/tmp/hp-bench .venv/bin/python benchmarks/perf/orchestration_latency.py --n 200

Runs with DEBUG off, as a deployment does, unless DEBUG is set. Prints a table and one JSON line
(`--json` for the JSON alone). Takes a few minutes at the defaults on two cores; the machine should be
otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BARE_TASK = "benchmarks.perf.orchestration_latency.bare_bell"
SHOTS = 1000
POLL = 0.005
SETTLE = 0.5

_bell: tuple[Any, Any] | None = None  # (simulator, circuit), one per worker


def bare_bell(shots: int = SHOTS, seed: int = 0) -> dict[str, int]:
    """The bare task (runs in a worker): a Bell circuit on qsim, counts keyed qubit 0 leftmost. As a
    competent direct call would: the simulator and circuit built once per worker (the portal's worker
    keeps its built circuits too) and the shots counted with numpy (a Python loop over 1000 rows alone
    took 1.3 ms, more than the simulation)."""
    global _bell
    import numpy as np

    if _bell is None:
        import cirq
        import qsimcirq

        q0, q1 = cirq.LineQubit.range(2)
        circuit = cirq.Circuit(cirq.H(q0), cirq.CNOT(q0, q1), cirq.measure(q0, q1, key="m"))
        _bell = (qsimcirq.QSimSimulator(), circuit)
    simulator, circuit = _bell
    bits = simulator.run(circuit, repetitions=shots).measurements["m"]
    values, counts = np.unique(bits @ (1 << np.arange(bits.shape[1] - 1, -1, -1)), return_counts=True)
    return {format(int(v), f"0{bits.shape[1]}b"): int(c) for v, c in zip(values, counts, strict=True)}


# --- set-up ---------------------------------------------------------------------------------------
def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridportal.settings")
    # As deployed: DEBUG's query log renders every statement's SQL with its values, here and in the
    # cluster (which inherits this environment); DEBUG=1 measures a development set-up instead.
    os.environ.setdefault("DEBUG", "0")
    import django

    django.setup()


def _seed() -> tuple[Any, Any]:
    """The bench user and experiment (idempotent)."""
    from django.contrib.auth import get_user_model

    from budgets.models import ExperimentClass, Membership, Role, Team
    from budgets.services.budgets import budget_set
    from jobs.models import Experiment

    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Benchmarks"})
    klass, _ = ExperimentClass.objects.get_or_create(
        slug="algorithm_validation", defaults={"name": "Algorithm validation"}
    )
    budget_set(team=team, experiment_class=klass, limit_micros=10**12, approval_threshold_micros=10**11, max_tier=3)
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"email": "bench@example.org"})
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": Role.RESEARCHER})
    experiment, _ = Experiment.objects.get_or_create(
        team=team, name="orchestration latency", defaults={"experiment_class": klass}
    )
    return user, experiment


def _start_cluster(log: Path, poll: float) -> subprocess.Popen[bytes]:
    """The interactive cluster, polling every `poll` seconds when idle: how soon it finds a stock
    task (the portal's wake it at commit)."""
    from django.conf import settings
    from django.db import connection

    env = {**os.environ, "Q_CLUSTER_NAME": "interactive", "Q_LOG_LEVEL": "INFO", "SECRET_KEY": settings.SECRET_KEY}
    env["Q_POLL"] = str(poll)
    env["HYBRIDPORTAL_VAR_DIR"] = str(settings.VAR_DIR)
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        env["DATABASE_URL"] = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while "running" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the interactive cluster did not start; see {log}")
        time.sleep(0.1)
    return proc


# --- the two paths --------------------------------------------------------------------------------
def bare_submit(i: int) -> str:
    """Through the portal's broker (settings: ORM + NOTIFY on PostgreSQL), as the portal enqueues."""
    from django_q.tasks import async_task

    return async_task(BARE_TASK, SHOTS, i, cluster="interactive", group="bench-bare")


def stock_submit(i: int) -> str:
    """Through django-q2's stock ORM broker: no NOTIFY, so the cluster finds the task by its poll."""
    from django_q.brokers.orm import ORM
    from django_q.tasks import async_task

    return async_task(BARE_TASK, SHOTS, i, cluster="interactive", group="bench-stock", broker=ORM("interactive"))


def bare_done(task_ids: list[str]) -> int:
    from django_q.models import Task

    return Task.objects.filter(id__in=task_ids, success=True).count()


def portal_request(experiment: Any, **extra: Any) -> dict[str, Any]:
    return {
        "experiment": experiment.pk,
        "family": "bell",
        "params": {},
        "shots": SHOTS,
        "backend": "qsim",
        "no_cache": True,
        **extra,
    }


SUBMITTED: list[tuple[str, float]] = []  # (job id, seconds the submit call took)


def portal_submit(user: Any, request: dict[str, Any]) -> str:
    from jobs.services import job_submit

    t0 = time.perf_counter()
    job_id = str(job_submit(user=user, request=request).job.pk)
    SUBMITTED.append((job_id, time.perf_counter() - t0))
    return job_id


def portal_batch_submit(user: Any, experiment: Any) -> Callable[[range], list[str]]:
    """Submit a chunk of portal jobs as one batch (one transaction); their ids."""
    from jobs.services import job_submit_batch

    def submit(chunk: range) -> list[str]:
        requests = [portal_request(experiment) for _ in chunk]
        return [str(job.pk) for job in job_submit_batch(user=user, requests=requests).jobs]

    return submit


def portal_breakdown(submitted: list[tuple[str, float]]) -> dict[str, float]:
    """Median milliseconds of each part of the portal path: the submit call (validate … enqueue on
    commit), the queue (queued → claimed by a worker) and the worker (claimed → result committed)."""
    from jobs.models import Job

    jobs = {str(j.pk): j for j in Job.objects.filter(pk__in=[i for i, _ in submitted])}
    return {
        "submit_call_ms": 1000 * statistics.median(t for _, t in submitted),
        "queue_ms": 1000 * statistics.median((j.started_at - j.queued_at).total_seconds() for j in jobs.values()),
        "worker_ms": 1000 * statistics.median((j.finished_at - j.started_at).total_seconds() for j in jobs.values()),
    }


def portal_done(job_ids: list[str]) -> int:
    """How many of the jobs succeeded, in one query as `bare_done` asks (it polls the result)."""
    from django.db.models import Count, Q

    from jobs.models import Job, JobStatus

    ended = Job.objects.filter(pk__in=job_ids).aggregate(
        done=Count("pk", filter=Q(status=JobStatus.SUCCEEDED)),
        failed=Count("pk", filter=Q(status__in=["failed", "cancelled", "rejected"])),
    )
    if ended["failed"]:
        raise SystemExit(f"{ended['failed']} benchmark jobs did not succeed")
    return ended["done"]


def wait_done(ident: str, done: Callable[[list[str]], int], t0: float) -> None:
    """Poll every 5 ms for 0.2 s, then every 20 ms: a long job's simulator keeps the cores."""
    while done([ident]) < 1:
        time.sleep(POLL if time.perf_counter() - t0 < 0.2 else 4 * POLL)


def closed_loop(n: int, submit: Callable[[int], str], done: Callable[[list[str]], int]) -> list[float]:
    """Submit one, wait for its result, repeat; seconds from submit to a readable result."""
    return closed_loops(n, {"path": (submit, done)})["path"]


def closed_loops(
    n: int, paths: dict[str, tuple[Callable[[int], str], Callable[[list[str]], int]]]
) -> dict[str, list[float]]:
    """`closed_loop` for several paths, interleaved job by job (the order rotating), so a slow spell
    of the machine falls on every path alike instead of on whichever ran then."""
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for i in range(n):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            submit, done = paths[name]
            t0 = time.perf_counter()
            ident = submit(i)
            wait_done(ident, done, t0)
            latencies[name].append(time.perf_counter() - t0)
    return latencies


def open_loop(n: int, submit: Callable[[int], str], done: Callable[[list[str]], int], clients: int = 1) -> float:
    """Submit n as fast as `clients` concurrent clients can (each a thread with its own database
    connection, as web workers are), wait for all; jobs per second."""
    return open_loop_batches(n, 1, lambda chunk: [submit(i) for i in chunk], done, clients)


def open_loop_batches(
    n: int, k: int, submit: Callable[[range], list[str]], done: Callable[[list[str]], int], clients: int = 1
) -> float:
    """`open_loop` with the n jobs submitted k at a time: `submit` takes a range of job indices and
    returns their ids; client c submits the chunks c, c + clients, …"""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    chunks = [range(start, min(start + k, n)) for start in range(0, n, k)]

    def client(c: int) -> list[str]:
        try:
            return [i for chunk in chunks[c::clients] for i in submit(chunk)]
        finally:
            if clients > 1:
                connection.close()

    t0 = time.perf_counter()
    if clients == 1:
        ids = client(0)
    else:
        with ThreadPoolExecutor(clients) as pool:
            ids = [i for chunk in pool.map(client, range(clients)) for i in chunk]
    while done(ids) < n:
        time.sleep(0.05)
    return n / (time.perf_counter() - t0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the 22-qubit job and the cache -----------------------------------------------------------------
def big_job(user: Any, experiment: Any, repeats: int, qubits: int) -> dict[str, float]:
    import qsimcirq
    from django.conf import settings
    from django.utils import timezone

    from adapters.convert import to_cirq
    from adapters.ir import Circuit
    from jobs.models import Job

    request = portal_request(experiment, family="random", params={"n_qubits": qubits, "depth": 20, "seed": 7})

    def end_to_end(req: dict[str, Any]) -> tuple[float, str]:
        """Submit → result stored, by the worker's own finish time: the client polls only every 0.1 s
        so its polling does not take CPU from the simulator's threads on a small machine."""
        submitted_at = timezone.now()
        job_id = portal_submit(user, req)
        while portal_done([job_id]) < 1:
            time.sleep(0.1)
        return (Job.objects.get(pk=job_id).finished_at - submitted_at).total_seconds(), job_id

    def direct_run() -> float:
        t0 = time.perf_counter()
        simulator.run(program, repetitions=SHOTS)
        elapsed = time.perf_counter() - t0
        # qsim's OpenMP threads spin-wait after a run; let them go idle before the worker's turn.
        time.sleep(SETTLE)
        return elapsed

    # Warm-up: each worker converts (and translates for qsim) a circuit once and keeps it, so submit
    # one copy per worker at once — each takes one — and measure the steady state.
    workers = int(settings.Q_CLUSTER["ALT_CLUSTERS"]["interactive"]["workers"])
    warm = [portal_submit(user, request) for _ in range(workers)]
    while portal_done(warm) < len(warm):
        time.sleep(0.1)
    program = to_cirq(Circuit.from_json(Job.objects.get(pk=warm[0]).circuit))
    threads = int(settings.HYBRIDPORTAL_BACKENDS["qsim_threads"])
    simulator = qsimcirq.QSimSimulator(qsim_options=qsimcirq.QSimOptions(cpu_threads=threads))
    direct_run()  # warm-up
    portal, direct = [], []
    for _ in range(repeats):  # interleaved, so load from elsewhere hits both alike
        portal.append(end_to_end(request))
        time.sleep(SETTLE)
        direct.append(direct_run())
    worker_execute = statistics.median(
        Job.objects.get(pk=job_id).result_meta["execute_seconds"] for _, job_id in portal
    )

    cached_request = {**request, "no_cache": False}
    end_to_end(cached_request)  # makes sure a cacheable result exists
    hits = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        hit_id = portal_submit(user, cached_request)
        hits.append(time.perf_counter() - t0)
        assert Job.objects.get(pk=hit_id).cached_from_id is not None, "expected a cache hit"
    return {
        "portal_seconds": statistics.median(t for t, _ in portal),
        "direct_seconds": statistics.median(direct),
        "worker_execute_seconds": worker_execute,
        "cache_hit_seconds": statistics.median(hits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="jobs in the throughput run (each path)")
    parser.add_argument("--latency-n", type=int, default=100, help="jobs in the closed-loop latency run (each path)")
    parser.add_argument("--big-repeats", type=int, default=9, help="22-qubit runs each way (median)")
    parser.add_argument("--big-qubits", type=int, default=22)
    parser.add_argument("--clients", type=int, default=1, help="concurrent submitting clients in the throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs of each path, in turn (median)")
    parser.add_argument(
        "--batch", type=int, default=0, help="also measure (c): the throughput run through job_submit_batch, K a batch"
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=None,
        help="seconds the idle cluster waits between looks for stock tasks (default: Q_POLL, as deployed)",
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()

    _django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    user, experiment = _seed()
    log = Path(settings.VAR_DIR) / f"bench-qcluster-{uuid.uuid4().hex[:8]}.log"
    poll = settings.Q_CLUSTER["poll"] if args.poll is None else args.poll
    cluster = _start_cluster(log, poll)

    def portal(i: int) -> str:
        return portal_submit(user, portal_request(experiment))

    try:
        for submit, done in ((stock_submit, bare_done), (bare_submit, bare_done), (portal, portal_done)):
            closed_loop(5, submit, done)  # warm-up: every worker has imported and simulated once
        SUBMITTED.clear()
        latencies = closed_loops(
            args.latency_n,
            {"stock": (stock_submit, bare_done), "bare": (bare_submit, bare_done), "portal": (portal, portal_done)},
        )
        lat_stock, lat_a, lat_b = latencies["stock"], latencies["bare"], latencies["portal"]
        breakdown = portal_breakdown(SUBMITTED)
        # Rounds of every path in turn, the median of each: the machine's speed drifts by tens of per
        # cent over a minute, and one run of each path apart left the ratios to that drift.
        batches = portal_batch_submit(user, experiment)
        if args.batch > 0:
            open_loop_batches(min(args.batch, 5), args.batch, batches, portal_done)  # warm-up
        rounds: dict[str, list[float]] = {"stock": [], "bare": [], "portal": [], "batch": []}
        for _ in range(args.rounds):
            rounds["stock"].append(open_loop(args.n, stock_submit, bare_done, args.clients))
            rounds["bare"].append(open_loop(args.n, bare_submit, bare_done, args.clients))
            rounds["portal"].append(open_loop(args.n, portal, portal_done, args.clients))
            if args.batch > 0:
                rounds["batch"].append(open_loop_batches(args.n, args.batch, batches, portal_done, args.clients))
        thr_stock, thr_a, thr_b = (statistics.median(rounds[k]) for k in ("stock", "bare", "portal"))
        thr_c = statistics.median(rounds["batch"]) if args.batch > 0 else None
        big = big_job(user, experiment, args.big_repeats, args.big_qubits)
    finally:
        cluster.send_signal(signal.SIGTERM)  # the master stops its workers (signalled too, it hangs)
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)

    result = {
        "database": connection.vendor,
        "debug": settings.DEBUG,
        "n": args.n,
        "latency_n": args.latency_n,
        "clients": args.clients,
        "poll_s": poll,
        "stock_p50_ms": 1000 * pct(lat_stock, 0.5),
        "stock_p95_ms": 1000 * pct(lat_stock, 0.95),
        "bare_p50_ms": 1000 * pct(lat_a, 0.5),
        "bare_p95_ms": 1000 * pct(lat_a, 0.95),
        "portal_p50_ms": 1000 * pct(lat_b, 0.5),
        "portal_p95_ms": 1000 * pct(lat_b, 0.95),
        **{f"portal_{k}": v for k, v in breakdown.items()},
        "latency_ratio_p50": pct(lat_b, 0.5) / pct(lat_a, 0.5),
        "latency_ratio_p95": pct(lat_b, 0.95) / pct(lat_a, 0.95),
        "stock_latency_ratio_p50": pct(lat_b, 0.5) / pct(lat_stock, 0.5),
        "stock_latency_ratio_p95": pct(lat_b, 0.95) / pct(lat_stock, 0.95),
        "rounds": args.rounds,
        "throughput_rounds": {k: [round(v, 1) for v in values] for k, values in rounds.items() if values},
        "stock_jobs_per_s": thr_stock,
        "bare_jobs_per_s": thr_a,
        "portal_jobs_per_s": thr_b,
        "throughput_ratio": thr_b / thr_a,
        "stock_throughput_ratio": thr_b / thr_stock,
        "big_qubits": args.big_qubits,
        "big_portal_s": big["portal_seconds"],
        "big_direct_s": big["direct_seconds"],
        "big_worker_execute_s": big["worker_execute_seconds"],
        "big_ratio": big["portal_seconds"] / big["direct_seconds"],
        "cache_hit_s": big["cache_hit_seconds"],
        "cache_ratio": big["cache_hit_seconds"] / big["portal_seconds"],
    }
    if thr_c is not None:
        result.update(
            {
                "batch": args.batch,
                "portal_batch_jobs_per_s": thr_c,
                "batch_throughput_ratio": thr_c / thr_a,
                "batch_stock_throughput_ratio": thr_c / thr_stock,
                "batch_vs_single_throughput": thr_c / thr_b,
            }
        )
    if not args.json:
        _report(result, breakdown, big, args.big_qubits)
    print(json.dumps(result))


def _report(r: dict[str, Any], breakdown: dict[str, float], big: dict[str, float], qubits: int) -> None:
    print(
        f"database {r['database']}; latency over {r['latency_n']} jobs, throughput over {r['n']} jobs "
        f"from {r['clients']} client(s), median of {r['rounds']} rounds, DEBUG {'on' if r['debug'] else 'off'}, "
        f"the cluster polling every {r['poll_s'] * 1000:g} ms when idle"
    )
    print("  rounds (jobs/s): " + "; ".join(f"{k} {v}" for k, v in r["throughput_rounds"].items()))
    for label, key in (
        ("(a) bare django-q2 task", "stock"),
        ("(a') bare task, portal broker", "bare"),
        ("(b) portal job", "portal"),
    ):
        print(
            f"{label:<30} p50 {r[f'{key}_p50_ms']:6.1f} ms  p95 {r[f'{key}_p95_ms']:6.1f} ms  "
            f"{r[f'{key}_jobs_per_s']:6.1f} jobs/s"
        )
    if "batch" in r:
        print(
            f"{'(c) portal jobs, batches of ' + str(r['batch']):<30} {'':>30}{r['portal_batch_jobs_per_s']:6.1f} jobs/s"
            f"  (c)/(a) {r['batch_stock_throughput_ratio']:.3f}, (c)/(a') {r['batch_throughput_ratio']:.3f}, "
            f"(c)/(b) {r['batch_vs_single_throughput']:.3f}"
        )
    print(
        f"    portal parts (median): submit call {breakdown['submit_call_ms']:.1f} ms, queue "
        f"{breakdown['queue_ms']:.1f} ms, worker {breakdown['worker_ms']:.1f} ms"
    )
    print(
        f"{qubits} qubits: portal {big['portal_seconds']:.3f} s (worker execute "
        f"{big['worker_execute_seconds']:.3f} s), direct qsim {big['direct_seconds']:.3f} s; "
        f"cache hit {big['cache_hit_seconds'] * 1000:.1f} ms"
    )
    goals = [
        ("latency p50 (b)/(a)", r["stock_latency_ratio_p50"], "≤ 1.3", r["stock_latency_ratio_p50"] <= 1.3),
        ("latency p95 (b)/(a)", r["stock_latency_ratio_p95"], "≤ 1.3", r["stock_latency_ratio_p95"] <= 1.3),
        ("throughput (b)/(a)", r["stock_throughput_ratio"], "≥ 0.6", r["stock_throughput_ratio"] >= 0.6),
        (f"{qubits}-qubit end to end / direct", r["big_ratio"], "≤ 1.05", r["big_ratio"] <= 1.05),
        ("cache hit / executed", r["cache_ratio"], "≤ 0.05", r["cache_ratio"] <= 0.05),
    ]
    for name, value, goal, ok in goals:
        print(f"  {name:<34} {value:7.3f}  goal {goal:<7} {'met' if ok else 'NOT met'}")
    print("  against (a'), the portal's own broker (no goal):")
    for name, key in (
        ("latency p50 (b)/(a')", "latency_ratio_p50"),
        ("latency p95 (b)/(a')", "latency_ratio_p95"),
        ("throughput (b)/(a')", "throughput_ratio"),
    ):
        print(f"  {name:<34} {r[key]:7.3f}")


if __name__ == "__main__":
    main()
