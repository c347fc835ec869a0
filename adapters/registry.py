"""The backend registry: ids → long-lived adapter instances, built lazily, one per id per process.

    configure(settings.HYBRIDPORTAL_BACKENDS)   # the jobs app does this at startup; optional
    backend_ids()                                # ["qsim", "qsim-noisy", "cirq", "aer", …, "ibm:fake_yorktown"]
    get_adapter("aer-noisy:fake_torino")         # builds on first use (noise model on first run)
    capabilities("ibm:fake_manila")              # cheap: reads the snapshot header, builds nothing
    max_qubits_any()                             # the job contract's upper bound on circuit width

Cheap to import and to list: no quantum SDK is imported until an adapter runs something. The fake
devices (68 in qiskit-ibm-runtime) appear as ``aer-noisy:<device>`` (tier 2) and ``ibm:<device>``
(tier 3, emulated without an IBM token); ``devices`` in the config narrows them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from adapters.aer import AerAdapter, AerMpsAdapter, AerNoisyAdapter, AerStabilizerAdapter
from adapters.base import Adapter, Capabilities, Price
from adapters.cirq_sim import CirqAdapter
from adapters.config import BackendConfig
from adapters.devices import device_names
from adapters.ibm import IbmAdapter
from adapters.qsim import QsimAdapter, QsimNoisyAdapter

LOCAL_BACKENDS: dict[str, Callable[[BackendConfig], Adapter]] = {
    "qsim": QsimAdapter,
    "cirq": CirqAdapter,
    "aer": AerAdapter,
    "aer-mps": AerMpsAdapter,
    "aer-stabilizer": AerStabilizerAdapter,
    "qsim-noisy": QsimNoisyAdapter,
}
# Device-backed families: "<prefix>:<fake device>".
DEVICE_BACKENDS: dict[str, Callable[[str, BackendConfig], Adapter]] = {
    "aer-noisy": AerNoisyAdapter,
    "ibm": IbmAdapter,
}

_lock = threading.RLock()
_config = BackendConfig()
_adapters: dict[str, Adapter] = {}
_max_qubits_any: int | None = None


class UnknownBackend(KeyError):
    """No backend has this id. A KeyError so ``except KeyError`` callers keep working."""

    def __init__(self, backend_id: str) -> None:
        self.backend_id = backend_id
        super().__init__(backend_id)

    def __str__(self) -> str:
        return (
            f"unknown backend {self.backend_id!r}; known: {', '.join(LOCAL_BACKENDS)}, "
            f"and aer-noisy:<device> / ibm:<device> for devices such as {', '.join(_devices()[:3])}"
        )


def configure(config: Mapping[str, Any] | BackendConfig | None = None) -> BackendConfig:
    """Apply settings (``settings.HYBRIDPORTAL_BACKENDS``); drops cached adapters so they pick it up."""
    global _config, _max_qubits_any
    new = config if isinstance(config, BackendConfig) else BackendConfig.from_mapping(config)
    with _lock:
        _config = new
        _adapters.clear()
        _max_qubits_any = None
    return new


def current_config() -> BackendConfig:
    return _config


def _devices() -> list[str]:
    known = device_names()
    if _config.devices:
        return [d for d in _config.devices if d in known]
    return known


def backend_ids() -> list[str]:
    """Every backend id: local simulators first, then per-device noisy simulators, then hardware."""
    devices = _devices()
    return [*LOCAL_BACKENDS, *(f"{prefix}:{d}" for prefix in DEVICE_BACKENDS for d in devices)]


def _build(backend_id: str) -> Adapter:
    if backend_id in LOCAL_BACKENDS:
        return LOCAL_BACKENDS[backend_id](_config)
    prefix, sep, device = backend_id.partition(":")
    if sep and prefix in DEVICE_BACKENDS and device in _devices():
        return DEVICE_BACKENDS[prefix](device, _config)
    raise UnknownBackend(backend_id)


def get_adapter(backend_id: str, *, price: Price | None = None) -> Adapter:
    """The process-wide adapter for `backend_id`; with `price`, a copy billed at that price (DB override)."""
    with _lock:
        adapter = _adapters.get(backend_id)
        if adapter is None:
            adapter = _adapters[backend_id] = _build(backend_id)
    if price is not None:
        return adapter.with_price(price)  # type: ignore[attr-defined]
    return adapter


def capabilities(backend_id: str) -> Capabilities:
    return get_adapter(backend_id).capabilities()


def all_capabilities() -> list[Capabilities]:
    """Capabilities of every backend, in `backend_ids()` order. Builds no noise model, imports no SDK."""
    return [capabilities(b) for b in backend_ids()]


def max_qubits_any() -> int:
    """The widest circuit any backend admits (e.g. the stabilizer simulator for Clifford circuits).

    Fixed by the configuration (memory limit, devices), so computed once per `configure`: every
    submission asks, and there are ~140 backends."""
    global _max_qubits_any
    if _max_qubits_any is None:
        _max_qubits_any = max(c.max_qubits for c in all_capabilities())
    return _max_qubits_any


def preload() -> None:
    """Import the simulator SDKs (and read the device catalogue) without running anything.

    Call it in a worker cluster's parent before it forks (a fresh worker otherwise pays for
    importing cirq/qsimcirq, qiskit and qiskit_ibm_runtime on its first task). Import only, never simulate:
    qsim's and Aer's OpenMP thread pools do not survive fork, and a worker forked after a run in its
    parent hangs on its first job. Builds no device noise model.
    """
    import cirq  # noqa: F401 — imported for the module cache the forked workers inherit
    import qiskit  # noqa: F401
    import qiskit_aer  # noqa: F401
    import qiskit_ibm_runtime  # noqa: F401
    import qsimcirq  # noqa: F401

    import adapters.convert  # noqa: F401

    device_names()
