"""Classify SDK and vendor exceptions as transient (retry with backoff) or permanent (fail the job now).

The vendor's own message is kept in `AdapterError.vendor_message` so the job page can show it verbatim.
Rules, in order: our own AdapterErrors pass through; MemoryError is a capacity refusal; timeouts,
connection failures and HTTP 408/429/5xx are transient; auth (401/403), invalid input (ValueError,
TypeError, qiskit/cirq validation errors) and anything else from an SDK are permanent. Unknown errors
default to permanent: retrying a deterministic simulator failure only burns worker time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from adapters.base import AdapterError, CapacityError, PermanentBackendError, TransientBackendError

_TRANSIENT_WORDS = re.compile(
    r"time(d)?[ -]?out|temporar|unavailable|try again|connection|queue (is )?full|too many requests|rate limit"
    r"|\b(408|429|500|502|503|504)\b",
    re.IGNORECASE,
)
_AUTH_WORDS = re.compile(r"unauthori[sz]ed|forbidden|invalid token|api key|\b(401|403)\b", re.IGNORECASE)


def _status_code(exc: BaseException) -> int | None:
    for attr in ("status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def classify(exc: BaseException, backend_id: str) -> AdapterError:
    """The AdapterError to raise for `exc`, prefixed with the backend id, vendor message kept."""
    if isinstance(exc, AdapterError):
        return exc
    vendor = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError):
        return CapacityError(f"{backend_id} ran out of memory", vendor_message=vendor)
    status = _status_code(exc)
    if status is not None:
        if status in (401, 403):
            return PermanentBackendError(f"{backend_id} refused the credentials ({status})", vendor_message=vendor)
        if status in (408, 429) or status >= 500:
            return TransientBackendError(f"{backend_id} is temporarily failing ({status})", vendor_message=vendor)
        return PermanentBackendError(f"{backend_id} rejected the job ({status})", vendor_message=vendor)
    if isinstance(exc, TimeoutError | ConnectionError):
        return TransientBackendError(f"{backend_id}: {exc}", vendor_message=vendor)
    text = str(exc)
    if _AUTH_WORDS.search(text):
        return PermanentBackendError(f"{backend_id} refused the credentials", vendor_message=vendor)
    if _TRANSIENT_WORDS.search(text):
        return TransientBackendError(f"{backend_id}: {text}", vendor_message=vendor)
    return PermanentBackendError(f"{backend_id}: {text or type(exc).__name__}", vendor_message=vendor)


@contextlib.contextmanager
def sdk_errors(backend_id: str) -> Iterator[None]:
    """Re-raise anything an SDK throws inside the block as a classified AdapterError."""
    try:
        yield
    except AdapterError:
        raise
    except Exception as exc:
        raise classify(exc, backend_id) from exc
