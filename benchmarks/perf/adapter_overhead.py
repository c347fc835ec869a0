"""Adapter overhead: each adapter's `run()` against a direct call of the same simulator.

Run from the repo root:  .venv/bin/python benchmarks/perf/adapter_overhead.py [--qubits 12 16 20 22]

Random depth-20 circuits (a layer = a random single-qubit gate on every qubit + a brick of CX), 1000
shots, median of 5 after a warm-up, direct and adapter calls interleaved so machine load hits both
alike. The direct call is the bare SDK call on a pre-built SDK circuit (qsimcirq.QSimSimulator.run /
AerSimulator.run + get_counts); the adapter call includes everything the portal pays: IR conversion,
admission and memory guard, seeding, the run, counts normalisation and the result record. Two
adapter columns: each run on a new circuit (conversion paid), and the same circuit again (reused).
Goal: ≤ 5% overhead at 20+ qubits.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.base import ExecutionRequest, RunResult  # noqa: E402
from adapters.config import BackendConfig  # noqa: E402
from adapters.convert import MEASUREMENT_KEY, to_cirq, to_qiskit  # noqa: E402
from adapters.ir import Circuit, Op  # noqa: E402
from adapters.local import simulator_seed  # noqa: E402

SHOTS = 1000
DEPTH = 20
CLOCK = time.perf_counter


def random_circuit(n: int, depth: int = DEPTH, seed: int = 0) -> Circuit:
    rng = random.Random(seed)
    ops: list[Op] = []
    for layer in range(depth):
        for q in range(n):
            gate = rng.choice(["rx", "ry", "rz", "h", "t", "sx"])
            params = (rng.uniform(-math.pi, math.pi),) if gate in ("rx", "ry", "rz") else ()
            ops.append(Op(gate, (q,), params))
        for q in range(layer % 2, n - 1, 2):
            ops.append(Op("cx", (q, q + 1)))
    return Circuit(n, tuple(ops), name=f"random{n}x{depth}")


@dataclass
class Row:
    direct: float  # median seconds of the bare SDK call
    new: float  # median seconds of adapter.run on a new circuit
    repeat: float  # median seconds of adapter.run on the same circuit again
    convert_ms: float  # median IR → SDK conversion inside the adapter (new circuits)
    other_ms: float  # median adapter time outside conversion and the simulator call (new circuits)


def measure(direct: Callable[[int], object], adapter: Callable[[int], RunResult], repeats: int) -> Row:
    """Direct call on circuit i, adapter on circuit i (new: converts), adapter on circuit 0 again
    (repeat: conversion reused) — interleaved so machine load hits all three alike."""
    direct(0)
    adapter(0)  # warm-up (imports, thread pools) — and circuit 0 is now converted for the repeat column
    d_times, new_times, repeat_times, convert, other = [], [], [], [], []
    for i in range(1, repeats + 1):
        t0 = CLOCK()
        direct(i)
        d_times.append(CLOCK() - t0)
        t0, wall0 = CLOCK(), time.perf_counter()
        result = adapter(i)
        new_times.append(CLOCK() - t0)
        wall = time.perf_counter() - wall0  # the adapter times its stages on the wall clock
        convert.append(result.transpile_seconds * 1e3)
        other.append((wall - result.execute_seconds - result.transpile_seconds) * 1e3)
        t0 = CLOCK()
        adapter(0)
        repeat_times.append(CLOCK() - t0)
    med = statistics.median
    return Row(med(d_times), med(new_times), med(repeat_times), med(convert), med(other))


def bench_qsim(circuits: list[Circuit], config: BackendConfig, repeats: int) -> Row:
    import qsimcirq

    from adapters.qsim import QsimAdapter

    programs = [to_cirq(c) for c in circuits]
    options = qsimcirq.QSimOptions(cpu_threads=config.qsim_threads)
    adapter = QsimAdapter(config)
    jobs = iter(range(10**9))

    def direct(i: int) -> object:
        simulator = qsimcirq.QSimSimulator(qsim_options=options, seed=simulator_seed(1))
        return simulator.run(programs[i], repetitions=SHOTS).measurements[MEASUREMENT_KEY]

    def via_adapter(i: int) -> RunResult:
        return adapter.run(ExecutionRequest(f"bench-{next(jobs)}", circuits[i], SHOTS, seed=1))

    return measure(direct, via_adapter, repeats)


def bench_aer(circuits: list[Circuit], config: BackendConfig, repeats: int) -> Row:
    from qiskit_aer import AerSimulator

    from adapters.aer import AerAdapter

    programs = [to_qiskit(c) for c in circuits]
    adapter = AerAdapter(config)
    simulator = AerSimulator(method="statevector", precision="double", **adapter.thread_options())
    jobs = iter(range(10**9))

    def direct(i: int) -> object:
        return simulator.run(programs[i], shots=SHOTS, seed_simulator=simulator_seed(1)).result().get_counts(0)

    def via_adapter(i: int) -> RunResult:
        return adapter.run(ExecutionRequest(f"bench-{next(jobs)}", circuits[i], SHOTS, seed=1))

    return measure(direct, via_adapter, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[12, 16, 20, 22])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["qsim", "aer"])
    parser.add_argument("--threads", type=int, default=None, help="simulator threads (default: every core)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu = process time: steadier on a shared machine (use with --threads 1)",
    )
    args = parser.parse_args()
    config = BackendConfig.from_mapping({"qsim_threads": args.threads, "aer_threads": args.threads})
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    benches = {"qsim": bench_qsim, "aer": bench_aer}
    print(f"depth {DEPTH} random circuits, {SHOTS} shots, median of {args.repeats} after a warm-up")
    print(f"threads: qsim {config.qsim_threads}, aer {config.aer_threads or 'all cores'}; clock: {args.clock}")
    header = (
        f"{'backend':<7} {'qubits':>6} {'gates':>5} {'direct s':>9} {'adapter s':>9} {'overhead':>8}"
        f" {'repeat s':>9} {'overhead':>8} {'convert ms':>10} {'other ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for backend in args.backends:
        for n in args.qubits:
            circuits = [random_circuit(n, seed=s) for s in range(args.repeats + 1)]
            row = benches[backend](circuits, config, args.repeats)
            print(
                f"{backend:<7} {n:>6} {len(circuits[0].ops):>5} {row.direct:>9.4f} {row.new:>9.4f}"
                f" {(row.new - row.direct) / row.direct * 100:>7.1f}% {row.repeat:>9.4f}"
                f" {(row.repeat - row.direct) / row.direct * 100:>7.1f}% {row.convert_ms:>10.2f} {row.other_ms:>8.2f}",
                flush=True,
            )
    print(
        "adapter = a new circuit each run (IR conversion paid); repeat = the same circuit again (conversion reused);\n"
        "convert/other = inside the adapter: IR→SDK conversion, and everything else outside the simulator call"
    )


if __name__ == "__main__":
    main()
