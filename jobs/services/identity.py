"""Identities a submission carries: its trace id, the digest of its body, its jobs' seeds."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from jobs.contract import JobRequest
from jobs.request_identity import request_sha256

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


def trace_id_from(traceparent: str | None) -> str:
    """The trace id of a valid W3C traceparent header, else a new random 32-hex id."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if match:
        version, trace_id, parent_id = match.group(1), match.group(2), match.group(3)
        if version != "ff" and trace_id != "0" * 32 and parent_id != "0" * 16:
            return trace_id
    return secrets.token_hex(16)


def request_body_sha256(request: JobRequest | dict[str, Any]) -> str:
    """SHA-256 of the contract a request body means (`jobs.request_identity`): an explicit default,
    another key order or "12.50" for "12.5" is the same request; a body may be a batch's `{"jobs": [...]}`."""
    return request_sha256(request)


def seed_for(job_id: uuid.UUID) -> int:
    """A job's sampling seed, derived from its id so a re-run months later draws the same shots."""
    return job_id.int % (2**31 - 1)
