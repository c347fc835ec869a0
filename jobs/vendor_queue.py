"""The vendor's queue as a stage of a hardware job's timeline.

A hardware job waits twice: in the portal's queue for a worker (`queue_wait`, usually milliseconds)
and in the vendor's queue for the device (`vendor_queue`, seconds to hours). The poll path notes when
it first sees the vendor report the job running; when the result arrives, the span from submission to
the start of the run becomes the job's `vendor_queue` stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.base import RemoteState
from jobs.models import Stage

RUNNING_SEEN = "vendor_running_at"  # result_meta key: when a poll first saw the job running


def note_running(meta: dict[str, Any], state: RemoteState, now: datetime) -> dict[str, Any]:
    """`meta` with the time of the first poll that saw the vendor run the job (QUEUED → RUNNING)."""
    if state is RemoteState.RUNNING and RUNNING_SEEN not in meta:
        return {**meta, RUNNING_SEEN: now.isoformat()}
    return meta


def run_start(meta: Mapping[str, Any], latest: datetime) -> datetime:
    """When the vendor started the job: the poll that first saw it running, or `latest` (the finish
    less the run's duration) when that is earlier or no poll saw it running (it queued and ran
    between two polls). Both bound the true start from above; the earlier is the closer."""
    seen = meta.get(RUNNING_SEEN)
    return min(datetime.fromisoformat(seen), latest) if seen else latest


def vendor_queue_span(submitted_at: datetime, started: datetime, backend: str) -> list[tuple[Any, ...]]:
    """The stage row for `jobs.execution.result_store` (empty when the job did not wait at the vendor)."""
    if started <= submitted_at:
        return []
    return [(Stage.VENDOR_QUEUE, submitted_at, started, {"backend": backend})]
