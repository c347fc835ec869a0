"""IR ⇄ SDK converters: `to_cirq`, `to_qiskit`, and `qiskit_to_ir` (used by the OpenQASM parser).

Every gate in `ir.GATES` maps to an exact unitary in both SDKs — not "equal up to global phase" —
so that controlled versions and statevector checks agree. Conventions (see ir.py):

* ``p(λ) = diag(1, e^{iλ})``, ``u(θ, φ, λ)`` is qiskit's U = ``p(φ)·ry(θ)·p(λ)`` exactly.
* ``rxx/ryy/rzz(θ) = exp(-iθ/2 P⊗P)``; ``cp(λ) = diag(1, 1, 1, e^{iλ})``.

Qubit i is ``cirq.LineQubit(i)`` / qiskit qubit i. Measurements: cirq gets one measurement with key
``"m"`` over ``circuit.measured`` in order; qiskit measures ``measured[j]`` into classical bit j.
With ``measure=False`` both omit measurements (for statevector checks). A cirq circuit only knows
the qubits its ops touch: simulate with ``qubit_order=line_qubits(n)`` to get the full register.

Unbound ``ParamRef`` parameters become ``sympy`` symbols (cirq) or ``qiskit.circuit.Parameter``
(qiskit), so parametrised circuits can be resolved by the SDK; executors bind first.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapters.ir import GATES, Circuit, IRError, Op, Param, ParamRef

if TYPE_CHECKING:  # heavy SDKs are imported lazily so importing this module is cheap
    import cirq
    import qiskit

MEASUREMENT_KEY = "m"


# --- cirq ----------------------------------------------------------------------------------------
def line_qubits(n: int) -> list[cirq.LineQubit]:
    import cirq

    return cirq.LineQubit.range(n)


def _cirq_param(p: Param) -> Any:
    if isinstance(p, ParamRef):
        import sympy

        return p.coeff * sympy.Symbol(p.name)
    return float(p)


@functools.cache
def _fixed_cirq_gates() -> dict[str, Any]:
    """Parameter-free gates, built once: constructing e.g. ControlledGate(H) validates and is slow."""
    import cirq

    return {
        "id": cirq.I,
        "x": cirq.X,
        "y": cirq.Y,
        "z": cirq.Z,
        "h": cirq.H,
        "s": cirq.S,
        "sdg": cirq.ZPowGate(exponent=-0.5),
        "t": cirq.T,
        "tdg": cirq.ZPowGate(exponent=-0.25),
        "sx": cirq.XPowGate(exponent=0.5),
        "sxdg": cirq.XPowGate(exponent=-0.5),
        "cx": cirq.CNOT,
        "cy": cirq.ControlledGate(cirq.Y),
        "cz": cirq.CZ,
        "ch": cirq.ControlledGate(cirq.H),
        "swap": cirq.SWAP,
        "iswap": cirq.ISWAP,
        "ccx": cirq.CCX,
        "cswap": cirq.CSWAP,
    }


@functools.lru_cache(maxsize=1 << 16)
def _fixed_cirq_op(name: str, qubits: tuple[int, ...]) -> Any:
    """A parameter-free gate on given qubits. cirq operations are immutable, so one object serves every
    circuit: building and validating ``gate.on(...)`` is ~half of the conversion time otherwise."""
    import cirq

    return _fixed_cirq_gates()[name].on(*(cirq.LineQubit(q) for q in qubits))


def _cirq_gate(op: Op) -> Any:
    """The cirq gate for one IR op. Exact unitary, no hidden global phase."""
    import cirq

    name = op.name
    fixed = _fixed_cirq_gates().get(name)
    if fixed is not None:
        return fixed
    a = [_cirq_param(p) for p in op.params]
    pi = math.pi
    match name:
        case "rx":
            return cirq.rx(a[0])
        case "ry":
            return cirq.ry(a[0])
        case "rz":
            return cirq.rz(a[0])
        case "p":
            return cirq.ZPowGate(exponent=a[0] / pi)
        case "crx":
            return cirq.ControlledGate(cirq.rx(a[0]))
        case "cry":
            return cirq.ControlledGate(cirq.ry(a[0]))
        case "crz":
            return cirq.ControlledGate(cirq.rz(a[0]))
        case "cp":
            return cirq.CZPowGate(exponent=a[0] / pi)
        case "rxx":
            return cirq.XXPowGate(exponent=a[0] / pi, global_shift=-0.5)
        case "ryy":
            return cirq.YYPowGate(exponent=a[0] / pi, global_shift=-0.5)
        case "rzz":
            return cirq.ZZPowGate(exponent=a[0] / pi, global_shift=-0.5)
    raise IRError("ops.gate", f"no cirq conversion for gate {name!r}")


def to_cirq(circuit: Circuit, *, measure: bool = True) -> cirq.Circuit:
    """The cirq circuit for `circuit`; measurement key ``"m"`` over ``circuit.measured`` in order.

    Ops are packed into moments here (earliest free slot per qubit, as cirq's default insertion would)
    because ``cirq.Circuit(ops)`` re-derives that placement op by op and costs ~3x more: conversion is
    on every job's hot path (benchmarks/perf/adapter_overhead.py).
    """
    import cirq

    qubits = cirq.LineQubit.range(circuit.n_qubits)
    fixed_gates = _fixed_cirq_gates()
    level = [0] * circuit.n_qubits  # first free moment per qubit
    moments: list[list[cirq.Operation]] = []
    pi = math.pi
    for op in circuit.ops:
        if op.name == "barrier":
            continue
        targets = op.qubits
        if op.name == "u":
            theta, phi, lam = (_cirq_param(p) for p in op.params)
            q = qubits[targets[0]]
            placed = [
                cirq.ZPowGate(exponent=lam / pi).on(q),
                cirq.ry(theta).on(q),
                cirq.ZPowGate(exponent=phi / pi).on(q),
            ]
        elif op.name in fixed_gates:
            placed = [_fixed_cirq_op(op.name, targets)]
        else:
            placed = [_cirq_gate(op).on(*[qubits[t] for t in targets])]
        for operation in placed:
            slot = level[targets[0]] if len(targets) == 1 else max(level[t] for t in targets)
            if slot == len(moments):
                moments.append([])
            moments[slot].append(operation)
            for t in targets:
                level[t] = slot + 1
    out = [cirq.Moment.from_ops(*ops) for ops in moments]
    if measure:
        out.append(cirq.Moment.from_ops(cirq.measure(*[qubits[q] for q in circuit.measured], key=MEASUREMENT_KEY)))
    return cirq.Circuit.from_moments(*out)


# --- qiskit --------------------------------------------------------------------------------------
_QISKIT_PARAMS: dict[str, Any] = {}


def _qiskit_param(p: Param) -> Any:
    if isinstance(p, ParamRef):
        from qiskit.circuit import Parameter

        # One Parameter object per name: qiskit compares parameters by identity (uuid), not name.
        param = _QISKIT_PARAMS.setdefault(p.name, Parameter(p.name))
        return p.coeff * param
    return float(p)


def to_qiskit(circuit: Circuit, *, measure: bool = True) -> qiskit.QuantumCircuit:
    """The qiskit circuit for `circuit`; measured qubit j goes to classical bit j.

    Note qiskit prints counts with classical bit 0 rightmost: results must be reversed to the portal's
    order (measured qubit 0 leftmost) — the adapters do that, see `qiskit_counts_to_portal`.
    """
    from qiskit import QuantumCircuit

    n_clbits = len(circuit.measured) if measure else 0
    qc = QuantumCircuit(circuit.n_qubits, n_clbits, name=circuit.name or "circuit")
    for op in circuit.ops:
        args = [_qiskit_param(p) for p in op.params]
        q = list(op.qubits)
        if op.name == "barrier":
            qc.barrier(*q)
        elif op.name == "sxdg":
            qc.sxdg(*q)
        else:
            getattr(qc, op.name)(*args, *q)
    if measure:
        for j, qubit in enumerate(circuit.measured):
            qc.measure(qubit, j)
    return qc


def qiskit_counts_to_portal(counts: dict[str, int], width: int) -> dict[str, int]:
    """Reverse qiskit's bitstrings (clbit 0 rightmost) to measured-qubit-0-leftmost, zero-padded."""
    out: dict[str, int] = {}
    for key, value in counts.items():
        bits = key.replace(" ", "")
        if bits.startswith("0x"):
            bits = format(int(bits, 16), f"0{width}b")
        bits = bits.zfill(width)[::-1]
        out[bits] = out.get(bits, 0) + int(value)
    return out


# --- qiskit → IR ---------------------------------------------------------------------------------
# qiskit instruction names that are the same gate under another name (qasm2 stdlib and legacy).
_ALIASES: dict[str, tuple[str, Callable[[list[Param]], list[Param]] | None]] = {
    "u1": ("p", None),
    "phase": ("p", None),
    "u3": ("u", None),
    "U": ("u", None),
    "u2": ("u", lambda a: [math.pi / 2, a[0], a[1]]),
    "cu1": ("cp", None),
    "cphase": ("cp", None),
    "CX": ("cx", None),
    "cnot": ("cx", None),
    "toffoli": ("ccx", None),
    "fredkin": ("cswap", None),
    "i": ("id", None),
    "delay": ("barrier", lambda a: []),
}


def _ir_param(value: Any, where: str) -> Param:
    from qiskit.circuit import Parameter, ParameterExpression

    if isinstance(value, Parameter):
        return ParamRef(value.name)
    if isinstance(value, ParameterExpression):
        if not value.parameters:
            return float(value)
        if len(value.parameters) == 1:
            (sym,) = value.parameters
            # A linear c·x expression: recover c by evaluating at 1 and checking linearity at 2.
            c1 = complex(value.bind({sym: 1.0}))
            c2 = complex(value.bind({sym: 2.0}))
            c0 = complex(value.bind({sym: 0.0}))
            if abs(c0) < 1e-12 and abs(c2 - 2 * c1) < 1e-12 and abs(c1.imag) < 1e-12:
                return ParamRef(sym.name, c1.real)
        raise IRError(where, f"parameter expression {value} is not of the form coeff·name")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise IRError(where, f"parameter {value!r} is not a number") from exc


def qiskit_to_ir(qc: qiskit.QuantumCircuit, *, name: str = "") -> Circuit:
    """Convert a qiskit circuit made of supported gates into IR.

    Measurements must come last on their qubits and write each classical bit at most once; the IR's
    ``measure`` lists the measured qubits in classical-bit order (unwritten bits are dropped). A
    circuit without any measurement
    measures every qubit (``measure=None``). Unsupported instructions (reset, control flow, custom
    gates, …) raise `IRError` naming the gate.
    """
    ops: list[Op] = []
    measured: dict[int, int] = {}  # clbit → qubit
    measured_qubits: set[int] = set()
    for i, inst in enumerate(qc.data):
        op_name = inst.operation.name
        qubits = tuple(qc.find_bit(q).index for q in inst.qubits)
        where = f"ops[{i}]"
        if op_name == "measure":
            clbit = qc.find_bit(inst.clbits[0]).index
            if clbit in measured:
                raise IRError(where, f"classical bit {clbit} is written twice")
            measured[clbit] = qubits[0]
            measured_qubits.add(qubits[0])
            continue
        target, convert = _ALIASES.get(op_name, (op_name, None))
        if target not in GATES:
            raise IRError(f"{where}.gate", f"unsupported gate {op_name!r}; supported: {', '.join(sorted(GATES))}")
        if measured_qubits.intersection(qubits) and target != "barrier":
            raise IRError(where, f"gate {op_name!r} after a measurement (mid-circuit measurement is not supported)")
        params: list[Param] = [_ir_param(p, f"{where}.params[{j}]") for j, p in enumerate(inst.operation.params)]
        if convert is not None:
            params = convert(params)
        ops.append(Op(target, qubits, tuple(params)))
    measure: tuple[int, ...] | None = None
    if measured:
        # Ordered by classical bit; bits nothing writes (e.g. an unused `creg c` beside measure_all's
        # `meas`) are dropped: the IR has no constant bits, so counts are as wide as what is measured.
        measure = tuple(measured[c] for c in sorted(measured))
        if measure == tuple(range(qc.num_qubits)):
            measure = None
    return Circuit(qc.num_qubits, tuple(ops), measure, name or "")


def cirq_counts(measurements: Any, width: int) -> dict[str, int]:
    """Histogram of a (shots × width) 0/1 array as portal bitstrings (column 0 leftmost)."""
    import numpy as np

    arr = np.asarray(measurements)
    if arr.size == 0:
        return {}
    if width > 62:
        keys, freq = np.unique(arr.astype(np.uint8), axis=0, return_counts=True)
        return {"".join(map(str, row)): int(c) for row, c in zip(keys, freq, strict=True)}
    # Pack each shot into one integer so the histogram is one np.unique over ints, not per-shot strings.
    values = arr.astype(np.int64, copy=False) @ (np.int64(1) << np.arange(width - 1, -1, -1, dtype=np.int64))
    keys, freq = np.unique(values, return_counts=True)
    pairs = zip(keys.tolist(), freq.tolist(), strict=True)
    if width <= 2 * _HALF_BITS:
        # Two table lookups per outcome instead of a format() call: ~3x faster for 1000s of outcomes.
        table, low = _half_strings(), width - _HALF_BITS
        if low <= 0:
            return {table[k][-width:]: c for k, c in pairs}
        mask = (1 << low) - 1
        return {table[k >> low][-(width - low) :] + table[k & mask][-low:]: c for k, c in pairs}
    return {format(k, f"0{width}b"): c for k, c in pairs}


_HALF_BITS = 12


@functools.cache
def _half_strings() -> list[str]:
    return [format(i, f"0{_HALF_BITS}b") for i in range(1 << _HALF_BITS)]
