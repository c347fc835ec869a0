"""The registry lists every backend cheaply, builds adapters on first use, and explains unknown ids."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters import registry
from adapters.base import ExecutionRequest, Price, PriceKind
from adapters.config import BackendConfig
from adapters.ir import Circuit, ops_from

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _registry(configured: BackendConfig) -> None:
    return None


def test_ids_list_local_simulators_and_every_fake_device_twice() -> None:
    ids = registry.backend_ids()
    assert ids[:6] == ["qsim", "cirq", "aer", "aer-mps", "aer-stabilizer", "qsim-noisy"]
    assert "aer-noisy:fake_torino" in ids and "ibm:fake_torino" in ids
    assert sum(1 for b in ids if b.startswith("ibm:")) == 68
    assert sum(1 for b in ids if b.startswith("aer-noisy:")) == 68
    assert len(ids) == len(set(ids))


def test_fake_device_listing_matches_the_runtime_fake_provider() -> None:
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    names = {b.name for b in FakeProviderForBackendV2().backends()}
    assert {b.partition(":")[2] for b in registry.backend_ids() if b.startswith("ibm:")} == names


def test_unknown_backend_is_a_key_error_with_a_clear_message() -> None:
    with pytest.raises(KeyError) as raised:
        registry.get_adapter("qsimm")
    assert isinstance(raised.value, registry.UnknownBackend)
    assert "unknown backend 'qsimm'" in str(raised.value)
    assert "aer-noisy:<device>" in str(raised.value)
    with pytest.raises(registry.UnknownBackend):
        registry.capabilities("ibm:fake_nowhere")


def test_adapters_are_built_once_per_process() -> None:
    assert registry.get_adapter("qsim") is registry.get_adapter("qsim")


def test_tiers_follow_the_design() -> None:
    tiers = {c.backend_id: c.tier for c in registry.all_capabilities()}
    assert tiers["qsim"] == tiers["cirq"] == tiers["aer"] == 0
    assert tiers["aer-mps"] == tiers["aer-stabilizer"] == 1
    assert tiers["qsim-noisy"] == tiers["aer-noisy:fake_torino"] == 2
    assert tiers["ibm:fake_torino"] == 3


def test_max_qubits_any_is_the_widest_backend() -> None:
    widest = registry.max_qubits_any()
    assert widest == max(c.max_qubits for c in registry.all_capabilities())
    assert widest >= registry.capabilities("ibm:fake_torino").max_qubits == 133
    assert widest >= registry.capabilities("qsim").max_qubits == 29


def test_listing_capabilities_imports_no_quantum_sdk_and_builds_no_noise_model() -> None:
    code = (
        "import json, sys, time; t = time.perf_counter(); from adapters import registry;"
        "caps = registry.all_capabilities(); elapsed = time.perf_counter() - t;"
        "heavy = [m for m in ('qiskit', 'qiskit_aer', 'qiskit_ibm_runtime', 'cirq', 'qsimcirq') if m in sys.modules];"
        "print(json.dumps({'count': len(caps), 'heavy': heavy, 'elapsed': elapsed}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["count"] == 6 + 2 * 68
    assert report["heavy"] == []
    assert report["elapsed"] < 1.0


def test_a_price_override_changes_the_estimate_not_the_shared_adapter() -> None:
    circuit = Circuit(2, ops_from([("h", [0]), ("cx", [0, 1])]))
    request = ExecutionRequest("priced", circuit, 1000)
    braket_like = Price(kind=PriceKind.PER_TASK_SHOT, per_task_micros=300_000, per_shot_micros=80)
    priced = registry.get_adapter("qsim", price=braket_like)
    assert priced.estimate(request).cost_micros == 300_000 + 80 * 1000
    assert priced.capabilities().price == braket_like
    assert registry.get_adapter("qsim").estimate(request).cost_micros == 0


def test_configure_accepts_the_settings_dict_and_ignores_unknown_keys(tmp_path: Path) -> None:
    registry.configure(
        {
            "memory_limit_bytes": 2 * 1024**3,
            "qsim_threads": 1,
            "ibm_token": "",
            "ibm_instance": "",
            "emulated_queue_seconds": 7.5,
            "state_dir": str(tmp_path),
            "devices": ["fake_manila", "fake_torino"],
            "a_future_setting": True,
        }
    )
    assert registry.capabilities("qsim").max_qubits == 27
    assert registry.capabilities("ibm:fake_manila").typical_queue_seconds == 7.5
    assert registry.backend_ids()[-1] == "ibm:fake_torino"
    assert len(registry.backend_ids()) == 6 + 4


def test_preload_imports_the_sdks_without_simulating_or_building_device_models() -> None:
    code = (
        "import json, sys; from adapters import registry, devices; registry.preload();"
        "print(json.dumps({'modules': [m for m in ('cirq', 'qsimcirq', 'qiskit_aer', 'qiskit_ibm_runtime')"
        " if m in sys.modules], 'models': devices.full_noise_model.cache_info().currsize,"
        " 'sims': [a for a in ('qsim', 'aer') if a in registry._adapters]}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"modules": ["cirq", "qsimcirq", "qiskit_aer", "qiskit_ibm_runtime"], "models": 0, "sims": []}
