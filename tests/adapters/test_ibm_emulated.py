"""An emulated IBM device behaves like the vendor: queue, statuses, cancel, price, restart, labels."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import replace

import pytest

from adapters import devices, registry
from adapters.base import (
    ExecutionRequest,
    PermanentBackendError,
    PriceKind,
    RemoteState,
    TransientBackendError,
)
from adapters.config import BackendConfig
from adapters.convert import to_qiskit
from adapters.ibm import (
    IBM_STATUS_MAP,
    IbmAdapter,
    billable_seconds,
    is_available,
    map_ibm_status,
    queue_delay_seconds,
)
from tests.adapters import circuits as fam

DEVICE = "fake_manila"
BACKEND = f"ibm:{DEVICE}"


def job_with_queue(config: BackendConfig, low: float, high: float) -> str:
    """A job id whose (seeded, reproducible) queue wait lies in [low, high] seconds."""
    for i in range(10_000):
        job_id = f"job-{i}"
        if low <= queue_delay_seconds(job_id, config.emulated_queue_seconds) <= high:
            return job_id
    raise AssertionError("no such job id")


@pytest.fixture
def adapter(configured: BackendConfig) -> IbmAdapter:
    ibm = registry.get_adapter(BACKEND)
    assert isinstance(ibm, IbmAdapter)
    ibm.estimate(ExecutionRequest("warm-up", fam.ghz(3)[0], 10))  # load the device and pass manager once
    return ibm


def wait_until_done(ibm: IbmAdapter, remote_id: str, limit: float = 10.0) -> list[RemoteState]:
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = ibm.poll(remote_id).state
        if not seen or seen[-1] is not state:
            seen.append(state)
        if state in (RemoteState.DONE, RemoteState.FAILED, RemoteState.CANCELLED):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"still {seen[-1]} after {limit} s")


def test_without_a_token_the_device_is_emulated_and_says_so(adapter: IbmAdapter) -> None:
    caps = registry.capabilities(BACKEND)
    assert caps.emulated is True and caps.tier == 3
    assert caps.max_qubits == 5
    assert caps.price.kind is PriceKind.PER_SECOND and caps.price.per_second_micros == 1_600_000
    assert caps.calibration and caps.calibration["calibration_date"].startswith("2024-05-27")
    assert "emulated" in caps.description


def test_submit_returns_at_once_then_poll_reports_queued_then_done(adapter: IbmAdapter, config: BackendConfig) -> None:
    job_id = job_with_queue(config, 0.4, 1.5)
    circuit, ideal = fam.ghz(3)
    started = time.perf_counter()
    remote_id = adapter.submit(ExecutionRequest(job_id, circuit, 1000, seed=4))
    assert time.perf_counter() - started < 0.4 < queue_delay_seconds(job_id, config.emulated_queue_seconds)

    first = adapter.poll(remote_id)
    assert first.state is RemoteState.QUEUED
    assert first.eta_seconds and first.eta_seconds > 0
    assert first.queue_position == 1
    assert "QUEUED" in first.detail

    assert wait_until_done(adapter, remote_id)[-1] is RemoteState.DONE
    result = adapter.result(remote_id)
    assert result.emulated is True
    assert result.backend_id == BACKEND
    assert result.calibration and result.calibration["device"] == DEVICE and result.calibration["emulated"] is True
    assert result.seed == 4 and result.shots == 1000
    fidelity = fam.hellinger_fidelity(result.counts, ideal)
    assert 0.5 < fidelity < 0.999  # the device's calibration noise, not a perfect simulator


def test_cancel_during_the_queue_stops_the_job(adapter: IbmAdapter, config: BackendConfig) -> None:
    job_id = job_with_queue(config, 3.0, 60.0)
    remote_id = adapter.submit(ExecutionRequest(job_id, fam.ghz(3)[0], 100, seed=1))
    assert adapter.poll(remote_id).state is RemoteState.QUEUED
    assert adapter.cancel(remote_id) is True
    assert adapter.poll(remote_id).state is RemoteState.CANCELLED
    with pytest.raises(PermanentBackendError, match="cancelled"):
        adapter.result(remote_id)


def test_cancel_after_completion_is_refused(adapter: IbmAdapter, config: BackendConfig) -> None:
    job_id = job_with_queue(config, 0.0, 0.1)
    remote_id = adapter.submit(ExecutionRequest(job_id, fam.ghz(2)[0], 100, seed=1))
    wait_until_done(adapter, remote_id)
    assert adapter.cancel(remote_id) is False
    assert adapter.result(remote_id).counts


def test_a_new_worker_process_resumes_by_remote_id(adapter: IbmAdapter, config: BackendConfig) -> None:
    job_id = job_with_queue(config, 0.2, 1.0)
    remote_id = adapter.submit(ExecutionRequest(job_id, fam.asymmetric(3)[0], 200, seed=2))
    restarted = IbmAdapter(DEVICE, config)  # nothing shared with `adapter` but the state dir
    assert restarted.poll(remote_id).state in (RemoteState.QUEUED, RemoteState.RUNNING)
    wait_until_done(restarted, remote_id)
    counts = restarted.result(remote_id).counts
    assert max(counts, key=counts.get) == "100"  # qubit 0 leftmost on hardware too
    assert adapter.result(remote_id).counts == counts  # the first worker reads the same stored result


def test_unreadable_job_records_are_a_transient_error(adapter: IbmAdapter, config: BackendConfig) -> None:
    remote_id = adapter.submit(ExecutionRequest(job_with_queue(config, 0.2, 1.0), fam.ghz(3)[0], 100, seed=2))
    record = adapter.store._path(remote_id)
    record.unlink()
    record.mkdir()  # reading it now fails with an OSError, as a broken disk or mount would
    try:
        with pytest.raises(TransientBackendError) as err:
            adapter.poll(remote_id)
        assert "IsADirectoryError" in err.value.vendor_message
    finally:
        record.rmdir()


def test_the_job_id_is_the_idempotency_token(adapter: IbmAdapter) -> None:
    request = ExecutionRequest("same-job", fam.ghz(3)[0], 100, seed=1)
    assert adapter.submit(request) == adapter.submit(request)
    assert IbmAdapter(DEVICE, adapter.config).submit(request) == adapter.submit(request)


def test_price_follows_the_documented_formula(adapter: IbmAdapter) -> None:
    circuit, _ = fam.ghz(3)
    # Few shots: the 1-second minimum applies.
    assert adapter.estimate(ExecutionRequest("p1", circuit, 1000)).cost_micros == 1_600_000
    # Many shots: shots × (circuit duration + readout + rep delay) × USD 1.60/s.
    shots = 20_000
    isa = devices.pass_manager(DEVICE).run(to_qiskit(circuit))
    circuit_s = devices.circuit_duration_seconds(DEVICE, isa)
    readout_s = devices.readout_seconds(DEVICE, devices.active_qubits(isa))
    assert 0 < circuit_s < 5e-6 and 1e-6 < readout_s < 2e-5
    expected_seconds = shots * (circuit_s + readout_s + 250e-6)
    assert billable_seconds(
        shots=shots, circuit_seconds=circuit_s, readout_seconds=readout_s, rep_delay_seconds=250e-6
    ) == pytest.approx(expected_seconds)
    estimate = adapter.estimate(ExecutionRequest("p2", circuit, shots))
    assert estimate.cost_micros == math.ceil(1_600_000 * expected_seconds)
    assert 8_000_000 < estimate.cost_micros < 10_000_000  # ~USD 8–10 for 20k shots


def test_billed_seconds_are_on_the_result(adapter: IbmAdapter, config: BackendConfig) -> None:
    job_id = job_with_queue(config, 0.0, 0.1)
    remote_id = adapter.submit(ExecutionRequest(job_id, fam.ghz(3)[0], 100, seed=1))
    wait_until_done(adapter, remote_id)
    result = adapter.result(remote_id)
    assert result.billable_seconds == 1.0
    assert result.metadata["cost_micros"] == 1_600_000


def test_queue_delay_is_reproducible_per_job_and_has_the_configured_mean() -> None:
    assert queue_delay_seconds("job-a", 5.0) == queue_delay_seconds("job-a", 5.0)
    waits = [queue_delay_seconds(f"job-{i}", 5.0) for i in range(4000)]
    assert sum(waits) / len(waits) == pytest.approx(5.0, rel=0.1)
    assert queue_delay_seconds("job-a", 0.0) == 0.0


def test_outside_availability_windows_the_device_is_closed(config: BackendConfig) -> None:
    now = dt.datetime.now(dt.UTC)
    closed_window = f"{(now + dt.timedelta(hours=2)):%H:%M}-{(now + dt.timedelta(hours=3)):%H:%M}"
    registry.configure(replace(config, availability_windows=(closed_window,)))
    caps = registry.capabilities(BACKEND)
    assert caps.available is False
    with pytest.raises(TransientBackendError, match="availability windows"):
        registry.get_adapter(BACKEND).submit(ExecutionRequest("closed", fam.ghz(2)[0], 10))


def test_availability_windows_may_wrap_midnight() -> None:
    night = ("22:00-06:00",)
    assert is_available(night, dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.UTC))
    assert is_available(night, dt.datetime(2026, 1, 1, 5, 59, tzinfo=dt.UTC))
    assert not is_available(night, dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC))
    assert is_available((), dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC))


def test_every_vendor_status_maps_to_a_remote_state() -> None:
    assert set(IBM_STATUS_MAP) >= {"INITIALIZING", "QUEUED", "RUNNING", "DONE", "ERROR", "CANCELLED"}
    assert map_ibm_status("ERROR") is RemoteState.FAILED
    assert map_ibm_status("cancelled") is RemoteState.CANCELLED
    assert map_ibm_status("INITIALIZING") is RemoteState.QUEUED


def test_unknown_remote_id_is_reported() -> None:
    from adapters.base import UnknownRemoteJob

    with pytest.raises(UnknownRemoteJob):
        IbmAdapter(DEVICE).poll("ibmemu-doesnotexist")
    with pytest.raises(UnknownRemoteJob):
        IbmAdapter(DEVICE).poll("../../etc/passwd")
