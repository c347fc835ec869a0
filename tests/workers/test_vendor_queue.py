"""A hardware job's wait at the vendor is a stage of its timeline, not hidden behind the portal's
millisecond queue wait."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from adapters import registry
from adapters.config import BackendConfig
from adapters.ibm import IbmAdapter, queue_delay_seconds
from jobs import tasks
from jobs.charts import timeline_figure
from jobs.models import JobStatus
from jobs.selectors import job_timeline
from tests.workers.test_tasks import held_job, poll_when_due

MEAN_VENDOR_QUEUE_SECONDS = 1.0


@pytest.fixture
def ibm(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> IbmAdapter:
    config = BackendConfig.from_mapping(
        {"state_dir": str(tmp_path / "adapters"), "emulated_queue_seconds": MEAN_VENDOR_QUEUE_SECONDS}
    )
    adapter = IbmAdapter("fake_manila", config)
    monkeypatch.setitem(registry._adapters, adapter.backend_id, adapter)
    return adapter


@pytest.mark.django_db
def test_a_hardware_jobs_vendor_queue_is_a_stage_of_its_timeline(cast: Any, ibm: IbmAdapter, settings: Any) -> None:
    settings.HARDWARE_POLL_SECONDS = 0.05
    # A job id whose seeded wait in the (emulated) vendor queue is about a second.
    job_id = next(i for i in iter(uuid.uuid4, None) if 0.8 <= queue_delay_seconds(str(i), 1.0) <= 1.5)
    vendor_wait = queue_delay_seconds(str(job_id), MEAN_VENDOR_QUEUE_SECONDS)
    job = held_job(cast, id=job_id, family="ghz", params={"n_qubits": 3}, tier=3, backend=ibm.backend_id)
    assert tasks.submit_hardware_job(str(job.pk)) == "submitted"

    states = []
    deadline = time.monotonic() + 30
    while not states or states[-1] not in {"succeeded", "failed"}:
        assert time.monotonic() < deadline
        states.append(poll_when_due(job))
    assert states[0] == "queued" and states[-1] == "succeeded"

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    spans = {s["label"]: s for s in job_timeline(job)}
    assert "Vendor queue" in spans and "Queue wait" in spans
    polled = settings.HARDWARE_POLL_SECONDS + 0.5  # a poll's lateness, with room for a slow machine
    assert vendor_wait - 0.05 <= spans["Vendor queue"]["duration_ms"] / 1000 <= vendor_wait + polled
    assert spans["Queue wait"]["duration_ms"] < spans["Vendor queue"]["duration_ms"]
    assert spans["Vendor queue"]["end"] <= spans["Transpile"]["start"]  # the run starts when the queue ends
    assert "Vendor queue" in [trace["name"] for trace in timeline_figure(job)["data"]]
