"""The neutral circuit IR: a small, JSON-serialisable description of a circuit that we own.

Adapters convert it to cirq / qiskit; OpenQASM is parsed into it. A circuit is a qubit count, an
ordered list of ops from a fixed gate set, and the qubits measured at the end. A parameter of an op
is a float or a symbolic reference ``ParamRef(name, coeff)`` meaning ``coeff * value_of(name)``,
bound later with `Circuit.bind`.

Bit order everywhere: in a result bitstring the leftmost character is ``measure[0]`` (qubit 0 when
every qubit is measured in order).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

IR_VERSION = 1

# name → (number of qubits, number of parameters). Conventions follow OpenQASM / qiskit:
# p(λ) = diag(1, e^{iλ}); u(θ, φ, λ) is qiskit's U; rzz(θ) = exp(-i θ/2 Z⊗Z); cp(λ) a controlled phase.
GATES: dict[str, tuple[int, int]] = {
    "id": (1, 0),
    "x": (1, 0),
    "y": (1, 0),
    "z": (1, 0),
    "h": (1, 0),
    "s": (1, 0),
    "sdg": (1, 0),
    "t": (1, 0),
    "tdg": (1, 0),
    "sx": (1, 0),
    "sxdg": (1, 0),
    "rx": (1, 1),
    "ry": (1, 1),
    "rz": (1, 1),
    "p": (1, 1),
    "u": (1, 3),
    "cx": (2, 0),
    "cy": (2, 0),
    "cz": (2, 0),
    "ch": (2, 0),
    "swap": (2, 0),
    "iswap": (2, 0),
    "crx": (2, 1),
    "cry": (2, 1),
    "crz": (2, 1),
    "cp": (2, 1),
    "rxx": (2, 1),
    "ryy": (2, 1),
    "rzz": (2, 1),
    "ccx": (3, 0),
    "cswap": (3, 0),
    "barrier": (-1, 0),  # any number of qubits; no effect on the state
}


class IRError(ValueError):
    """The IR is malformed. `field` names the offending path, e.g. ``ops[3].qubits``."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class ParamRef:
    """A symbolic parameter: ``coeff * <name>``."""

    name: str
    coeff: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"sym": self.name, "coeff": self.coeff}


Param = float | ParamRef


@dataclass(frozen=True)
class Op:
    name: str
    qubits: tuple[int, ...]
    params: tuple[Param, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gate": self.name, "qubits": list(self.qubits)}
        if self.params:
            out["params"] = [p.to_json() if isinstance(p, ParamRef) else _canon_float(p) for p in self.params]
        return out


@dataclass(frozen=True)
class Circuit:
    n_qubits: int
    ops: tuple[Op, ...] = ()
    measure: tuple[int, ...] | None = None  # None = measure every qubit, in order
    name: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        validate(self)

    # --- queries ---------------------------------------------------------------------------------
    @property
    def measured(self) -> tuple[int, ...]:
        return tuple(range(self.n_qubits)) if self.measure is None else self.measure

    @property
    def parameters(self) -> frozenset[str]:
        return frozenset(p.name for op in self.ops for p in op.params if isinstance(p, ParamRef))

    @property
    def is_bound(self) -> bool:
        return not self.parameters

    def gate_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.name] = counts.get(op.name, 0) + 1
        return counts

    def depth(self) -> int:
        # Every quote asks (the estimates learn by depth): one- and two-qubit gates take a short path.
        level = [0] * self.n_qubits
        for op in self.ops:
            if op.name == "barrier":
                continue
            qubits = op.qubits
            if len(qubits) == 1:
                level[qubits[0]] += 1
            elif len(qubits) == 2:
                a, b = qubits
                level[a] = level[b] = max(level[a], level[b]) + 1
            else:
                top = max(level[q] for q in qubits) + 1
                for q in qubits:
                    level[q] = top
        return max(level, default=0)

    # --- transforms ------------------------------------------------------------------------------
    def bind(self, values: Mapping[str, float]) -> Circuit:
        missing = self.parameters - set(values)
        if missing:
            raise IRError("params", f"unbound symbolic parameters: {', '.join(sorted(missing))}")

        def bound(p: Param) -> float:
            return float(p.coeff * values[p.name]) if isinstance(p, ParamRef) else float(p)

        ops = tuple(Op(op.name, op.qubits, tuple(bound(p) for p in op.params)) for op in self.ops)
        return Circuit(self.n_qubits, ops, self.measure, self.name, self.metadata)

    # --- serialisation ---------------------------------------------------------------------------
    @functools.cached_property
    def _ops_json(self) -> tuple[dict[str, Any], ...]:
        # Computed once per (immutable) circuit: a submission fingerprints and stores it.
        return tuple(op.to_json() for op in self.ops)

    @functools.cached_property
    def canonical(self) -> str:
        """`canonical_json(self.to_json())`, once per circuit: the part of a fingerprint that is large."""
        return canonical_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ir_version": IR_VERSION,
            "n_qubits": self.n_qubits,
            "ops": [dict(op) for op in self._ops_json],
            "measure": list(self.measured),
        }
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Circuit:
        if not isinstance(data, Mapping):
            raise IRError("circuit", "must be an object")
        version = data.get("ir_version", IR_VERSION)
        if version != IR_VERSION:
            raise IRError("ir_version", f"unsupported IR version {version!r}; this portal reads {IR_VERSION}")
        n = data.get("n_qubits")
        if not isinstance(n, int) or isinstance(n, bool):
            raise IRError("n_qubits", "must be an integer")
        raw_ops = data.get("ops", [])
        if not isinstance(raw_ops, list):
            raise IRError("ops", "must be a list")
        ops = []
        for i, raw in enumerate(raw_ops):
            if not isinstance(raw, Mapping):
                raise IRError(f"ops[{i}]", "must be an object")
            params = []
            for j, p in enumerate(raw.get("params", [])):
                if isinstance(p, Mapping) and "sym" in p:
                    params.append(ParamRef(str(p["sym"]), float(p.get("coeff", 1.0))))
                elif isinstance(p, int | float) and not isinstance(p, bool):
                    params.append(float(p))
                else:
                    raise IRError(f"ops[{i}].params[{j}]", "must be a number or {'sym': name}")
            qubits = raw.get("qubits", [])
            if not isinstance(qubits, list) or not all(isinstance(q, int) for q in qubits):
                raise IRError(f"ops[{i}].qubits", "must be a list of integers")
            ops.append(Op(str(raw.get("gate", "")), tuple(qubits), tuple(params)))
        measure = data.get("measure")
        if measure is not None and (not isinstance(measure, list) or not all(isinstance(q, int) for q in measure)):
            raise IRError("measure", "must be a list of integers")
        circuit = cls(n, tuple(ops), tuple(measure) if measure is not None else None, str(data.get("name", "")))
        # Normalise "every qubit in order" to None so equal circuits compare equal.
        if circuit.measure == tuple(range(n)):
            circuit = cls(n, circuit.ops, None, circuit.name)
        return circuit


def validate(circuit: Circuit) -> None:
    """Raise IRError naming the first malformed part."""
    n = circuit.n_qubits
    if n < 1:
        raise IRError("n_qubits", "must be at least 1")
    for i, op in enumerate(circuit.ops):
        spec = GATES.get(op.name)
        if spec is None:
            raise IRError(f"ops[{i}].gate", f"unknown gate {op.name!r}; allowed: {', '.join(sorted(GATES))}")
        arity, n_params = spec
        if arity >= 0 and len(op.qubits) != arity:
            raise IRError(f"ops[{i}].qubits", f"{op.name} acts on {arity} qubit(s), got {len(op.qubits)}")
        if len(op.params) != n_params:
            raise IRError(f"ops[{i}].params", f"{op.name} takes {n_params} parameter(s), got {len(op.params)}")
        for q in op.qubits:
            if not 0 <= q < n:
                raise IRError(f"ops[{i}].qubits", f"qubit {q} is outside 0..{n - 1}")
        if len(set(op.qubits)) != len(op.qubits):
            raise IRError(f"ops[{i}].qubits", "a gate cannot use the same qubit twice")
        for j, p in enumerate(op.params):
            if isinstance(p, float) and not math.isfinite(p):
                raise IRError(f"ops[{i}].params[{j}]", "must be finite")
    if circuit.measure is not None:
        if not circuit.measure:
            raise IRError("measure", "must name at least one qubit")
        if len(set(circuit.measure)) != len(circuit.measure):
            raise IRError("measure", "a qubit is measured twice")
        for q in circuit.measure:
            if not 0 <= q < n:
                raise IRError("measure", f"qubit {q} is outside 0..{n - 1}")


def _canon_float(x: float) -> float:
    # Round away float noise (1e-17 vs 0) so equal problems hash equal across platforms.
    r = round(float(x), 12)
    return 0.0 if r == 0 else r


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace: the byte string fingerprints are computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def fingerprint(
    circuit: Circuit,
    *,
    shots: int,
    backend: str,
    sdk_versions: Mapping[str, str],
    params: Mapping[str, float] | None = None,
) -> str:
    """SHA-256 over the canonical IR, bound parameters, shots, backend and SDK versions."""
    # The bytes of canonical_json({"backend", "circuit", "params", "sdk_versions", "shots"}) — sorted
    # keys, each value serialised on its own — with the circuit's part computed once per circuit.
    rest = {
        "params": {k: _canon_float(v) for k, v in sorted((params or {}).items())},
        "sdk_versions": dict(sorted(sdk_versions.items())),
        "shots": int(shots),
    }
    text = f'{{"backend":{canonical_json(backend)},"circuit":{circuit.canonical},{canonical_json(rest)[1:]}'
    return hashlib.sha256(text.encode()).hexdigest()


def bitstrings_width(circuit: Circuit) -> int:
    return len(circuit.measured)


def ops_from(spec: Sequence[tuple[str, Sequence[int]] | tuple[str, Sequence[int], Sequence[Param]]]) -> tuple[Op, ...]:
    """Shorthand for builders: ``ops_from([("h", [0]), ("cx", [0, 1]), ("rz", [1], [0.5])])``."""
    out = []
    for item in spec:
        name, qubits = item[0], item[1]
        params = item[2] if len(item) > 2 else ()  # type: ignore[misc]
        out.append(Op(name, tuple(qubits), tuple(params)))
    return tuple(out)
