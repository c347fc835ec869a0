"""IBM fake devices (qiskit-ibm-runtime's calibration snapshots): cheap listing, lazy heavy state.

Listing reads the snapshot files' headers only (68 devices in ~40 ms, no SDK import), so the registry
and `/backends` stay cheap. The heavy parts are built once per process per device and cached:
the backend object, its full noise model (seconds for a 133-qubit device), and a transpiler pass
manager. Runs use the noise model *restricted to the physical qubits the transpiled circuit touches*:
Aer converts the whole model on every run (2.3 s for GHZ(5) on fake_torino → ~80 ms restricted) and
errors on untouched qubits cannot change the counts.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.versions import sdk_versions

# Fixed so the same circuit always lands on the same physical qubits (reproducible runs and prices).
TRANSPILE_SEED = 1234
TRANSPILE_OPTIMIZATION_LEVEL = 1

_lock = threading.RLock()


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "fake_torino"
    n_qubits: int
    calibration_date: str  # ISO 8601, from the snapshot's properties
    vendor_name: str  # the real device the snapshot came from, e.g. "ibm_torino"

    def calibration(self) -> dict[str, Any]:
        return {
            "device": self.name,
            "vendor_device": self.vendor_name,
            "calibration_date": self.calibration_date,
            "snapshot": f"qiskit-ibm-runtime {sdk_versions()['qiskit-ibm-runtime']} {self.name}",
        }


def _backends_root() -> Path | None:
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "fake_provider" / "backends"


_DATE_RE = re.compile(r'"last_update_date"\s*:\s*"([^"]+)"')


@functools.cache
def _catalogue() -> dict[str, DeviceInfo]:
    root = _backends_root()
    out: dict[str, DeviceInfo] = {}
    if root is None or not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        confs = list(folder.glob("conf_*.json"))
        if not confs:
            continue
        with confs[0].open(encoding="utf-8") as fh:
            conf = json.load(fh)
        date = ""
        props = list(folder.glob("props_*.json"))
        if props:
            with props[0].open(encoding="utf-8") as fh:
                match = _DATE_RE.search(fh.read(4096))  # the date sits in the header: skip the big body
            date = match.group(1) if match else ""
        name = f"fake_{folder.name}"
        out[name] = DeviceInfo(name, int(conf["n_qubits"]), date, str(conf.get("backend_name", name)))
    return out


def device_names() -> list[str]:
    """Every fake device id, e.g. ``["fake_aachen", …, "fake_yorktown"]`` (no SDK import)."""
    return list(_catalogue())


def device_info(name: str) -> DeviceInfo:
    try:
        return _catalogue()[name]
    except KeyError:
        raise KeyError(f"unknown fake device {name!r}") from None


@functools.cache
def _provider() -> Any:
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    return FakeProviderForBackendV2()


@functools.cache
def backend(name: str) -> Any:
    """The fake backend object (one per process per device)."""
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. fake_nighthawk warns its properties are not typical
        return _provider().backend(name)


@functools.cache
def full_noise_model(name: str) -> Any:
    """The device's whole noise model — built by the same code runtime local testing mode uses. Once."""
    dev = backend(name)
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build = getattr(dev, "_get_noise_model_from_backend_v2", None)
        if build is not None:
            return build()
        from qiskit_aer.noise import NoiseModel

        return NoiseModel.from_backend(dev)


@functools.cache
def emulation_backend(name: str) -> Any:
    """A separate fake-backend instance for emulated hardware runs, with a plain AerSimulator attached.

    Left alone, the fake backend builds and attaches the whole-device noise model on its first run,
    and runtime local testing mode then deep-copies it (with the backend) on every job: 3 s per run
    on fake_torino without the model, 35 s with it (measured). Runs here pass the restricted model
    as a run option instead.
    """
    from qiskit_aer import AerSimulator

    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = type(backend(name))()
    dev.sim = AerSimulator()
    return dev


@functools.lru_cache(maxsize=256)
def restricted_noise_model(name: str, qubits: frozenset[int]) -> Any:
    """The device's noise model keeping only errors on `qubits` (physical indices unchanged)."""
    from qiskit_aer.noise import NoiseModel

    full = full_noise_model(name)
    model = NoiseModel(basis_gates=list(full.basis_gates))
    for label, per_qubits in full._local_quantum_errors.items():
        for on, error in per_qubits.items():
            if qubits.issuperset(on):
                model.add_quantum_error(error, label, on, warnings=False)
    for label, error in full._default_quantum_errors.items():
        model.add_all_qubit_quantum_error(error, label, warnings=False)
    for on, error in full._local_readout_errors.items():
        if qubits.issuperset(on):
            model.add_readout_error(error, on, warnings=False)
    if full._default_readout_error is not None:
        model.add_all_qubit_readout_error(full._default_readout_error, warnings=False)
    return model


@functools.cache
def pass_manager(name: str) -> Any:
    """Preset pass manager to the device's coupling map and basis, with a fixed seed."""
    from qiskit.transpiler import generate_preset_pass_manager

    return generate_preset_pass_manager(
        optimization_level=TRANSPILE_OPTIMIZATION_LEVEL, backend=backend(name), seed_transpiler=TRANSPILE_SEED
    )


def active_qubits(isa_circuit: Any) -> frozenset[int]:
    """Physical qubits an instruction (other than a barrier) touches."""
    used: set[int] = set()
    for inst in isa_circuit.data:
        if inst.operation.name == "barrier":
            continue
        used.update(isa_circuit.find_bit(q).index for q in inst.qubits)
    return frozenset(used)


def circuit_duration_seconds(name: str, isa_circuit: Any) -> float:
    """Critical-path duration of a transpiled circuit from the target's per-qubit gate durations.

    Measurements are excluded (readout is billed separately); a gate without a duration costs 0
    (e.g. ``rz`` is virtual on IBM hardware).
    """
    target = backend(name).target
    finish: dict[int, float] = {}
    for inst in isa_circuit.data:
        op_name = inst.operation.name
        if op_name in ("barrier", "measure"):
            continue
        qargs = tuple(isa_circuit.find_bit(q).index for q in inst.qubits)
        duration = 0.0
        if op_name in target.operation_names:
            props = target[op_name].get(qargs)
            if props is not None and props.duration:
                duration = float(props.duration)
        start = max((finish.get(q, 0.0) for q in qargs), default=0.0)
        for q in qargs:
            finish[q] = start + duration
    return max(finish.values(), default=0.0)


def readout_seconds(name: str, qubits: frozenset[int]) -> float:
    """The longest measurement duration among `qubits` (they are read out in parallel)."""
    target = backend(name).target
    if "measure" not in target.operation_names:
        return 0.0
    longest = 0.0
    for q in qubits:
        props = target["measure"].get((q,))
        if props is not None and props.duration:
            longest = max(longest, float(props.duration))
    return longest


def rep_delay_seconds(name: str) -> float:
    """The device's default delay between shots (250 µs on most IBM devices)."""
    conf = backend(name).configuration()
    value = getattr(conf, "default_rep_delay", None)
    # configuration() reports it in seconds on the fake snapshots; fall back to IBM's usual 250 µs.
    return float(value) if value else 250e-6
