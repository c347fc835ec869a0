"""Execution-plane settings: one frozen value built from ``settings.HYBRIDPORTAL_BACKENDS`` (a plain dict).

Every key is optional so the adapters work unconfigured (tests, notebooks, benchmarks). Unknown keys
are ignored, so the settings file can grow without breaking older workers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class BackendConfig:
    # Worker memory the statevector guard admits (bytes).
    memory_limit_bytes: int = 8 * GIB
    qsim_threads: int = os.cpu_count() or 1
    # Aer's OpenMP threads per run; 0 = Aer's default (every core).
    aer_threads: int = 0
    # Real IBM Quantum credentials; without a token `ibm:*` runs as an emulated device.
    ibm_token: str = ""
    ibm_instance: str = ""
    ibm_channel: str = "ibm_quantum_platform"
    # Emulated vendor queue: exponential waits with this mean, seeded by the job id.
    emulated_queue_seconds: float = 5.0
    # Emulated QPU time is shown as RUNNING for min(billable seconds, this cap) before results appear.
    emulated_run_seconds_max: float = 2.0
    # Daily UTC windows when emulated hardware accepts jobs, e.g. ("06:00-22:00",); empty = always.
    availability_windows: tuple[str, ...] = ()
    # Where remote (emulated) job state lives so another worker process can resume by remote id.
    state_dir: str = str(Path(tempfile.gettempdir()) / "hybridportal-adapters")
    # How many local-simulator results a worker keeps for `result()` after `submit()`.
    result_cache_size: int = 256
    # qsim-noisy's channel: depolarising probability after every moment.
    qsim_noise_p: float = 0.01
    # cirq.Simulator is a pure-python reference: refuse circuits above this width.
    cirq_max_qubits: int = 20
    # MPS and stabilizer methods are not bounded by 2^n memory; cap them at what we have tested.
    mps_max_qubits: int = 200
    stabilizer_max_qubits: int = 1000
    # Restrict `aer-noisy:*` / `ibm:*` to these fake devices (e.g. ("fake_manila",)); empty = all 68.
    devices: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> BackendConfig:
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known or value is None:
                continue
            default = getattr(cls, key)
            if isinstance(default, tuple):
                value = (value,) if isinstance(value, str) else tuple(value)
            elif isinstance(default, bool):
                value = bool(value)
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            else:
                value = str(value)
            kwargs[key] = value
        return cls(**kwargs)
