"""Idempotency-Key handling: a submission claims its key in its own transaction; a replay answers with
the stored response."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from budgets.errors import Conflict, Invalid
from jobs.models import IdempotencyKey, Job

JOBS_ROUTE = "/api/v1/jobs"
JOBS_BATCH_ROUTE = "/api/v1/jobs/batch"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_ttl() -> timedelta:
    return timedelta(hours=max(24, int(getattr(settings, "IDEMPOTENCY_TTL_HOURS", 24))))


@transaction.atomic
def idempotency_key_insert(*, user: AbstractBaseUser, key: str, body_sha256: str, route: str) -> IdempotencyKey:
    """Insert the key row (savepoint). Must run inside the submit's transaction.

    Race: the unique constraint decides. On PostgreSQL a second INSERT of the same key waits for the
    first transaction; if that commits, ours fails with IntegrityError and the caller reads the winner
    (replay); if it rolls back, ours succeeds. The wait is capped by IDEMPOTENCY_WAIT_SECONDS, after
    which the first request counts as in flight (409). SQLite serialises whole write transactions.
    """
    now = timezone.now()
    with lock_timeout(float(getattr(settings, "IDEMPOTENCY_WAIT_SECONDS", 10))):
        return IdempotencyKey.objects.create(
            user=user,
            method="POST",
            route=route,
            key=key,
            body_sha256=body_sha256,
            expires_at=now + idempotency_ttl(),
        )


class lock_timeout:  # noqa: N801 - used as a context manager
    """`SET LOCAL lock_timeout` for one statement on PostgreSQL, restored afterwards."""

    def __init__(self, seconds: float) -> None:
        self.ms = int(seconds * 1000)
        self.old: str | None = None

    def __enter__(self) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT current_setting('lock_timeout')")
                self.old = cur.fetchone()[0]
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [f"{self.ms}ms"])

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self.old is not None and exc_type is None:
            with connection.cursor() as cur:
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [self.old])


def idempotency_key_claim(
    *, user: AbstractBaseUser, key: str, body_sha256: str, route: str
) -> tuple[IdempotencyKey, bool]:
    """Claim the key for this request: (the new row, False); or (the earlier request's row, True),
    whose stored answer is the reply."""
    if not _IDEMPOTENCY_KEY.match(key):
        raise Invalid("must be 1–255 printable ASCII characters", field="Idempotency-Key")
    scope = {"user": user, "method": "POST", "route": route, "key": key}
    IdempotencyKey.objects.filter(**scope, expires_at__lte=timezone.now()).delete()
    try:
        return idempotency_key_insert(user=user, key=key, body_sha256=body_sha256, route=route), False
    except IntegrityError:
        pass
    except OperationalError:
        raise in_flight_conflict(key) from None
    earlier = IdempotencyKey.objects.select_related("job").filter(**scope).first()
    if earlier is None:  # the first request rolled back between our INSERT and this read
        raise in_flight_conflict(key)
    if earlier.body_sha256 != body_sha256:
        raise Invalid(
            "this Idempotency-Key was used with a different request body; use a new key for a new request",
            field="Idempotency-Key",
            code="idempotency_mismatch",
        )
    if earlier.response_status is None:
        raise in_flight_conflict(key)
    return earlier, True


@dataclass
class Claim:
    """A submission's Idempotency-Key: `row` is the claimed key, or with `replayed` the earlier
    request's, whose stored answer is the reply. The submission sets `job` and `body`, its answer."""

    row: IdempotencyKey | None = None
    replayed: bool = False
    job: Job | None = None
    body: dict[str, Any] | None = None


@contextmanager
def idempotency_scope(*, user: AbstractBaseUser, key: str | None, body_sha256: str, route: str) -> Iterator[Claim]:
    """With an Idempotency-Key, the submission's one transaction, the key claimed first; the answer the
    submission leaves in the claim is stored with the key, for replays, as the block ends. Without
    one, the submission's writes take their own transaction (`submit_pipeline`)."""
    if key is None:
        yield Claim()
        return
    with transaction.atomic():
        claim = Claim()
        claim.row, claim.replayed = idempotency_key_claim(user=user, key=key, body_sha256=body_sha256, route=route)
        yield claim
        if not claim.replayed:
            claim.row.job, claim.row.response_status, claim.row.response_body = claim.job, 201, claim.body
            claim.row.save(update_fields=["job", "response_status", "response_body"])


def in_flight_conflict(key: str) -> Conflict:
    return Conflict(
        "a request with this Idempotency-Key is still being processed; retry shortly",
        field="Idempotency-Key",
        code="idempotency_in_flight",
    )


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete expired idempotency keys (kept ≥ 24 h); returns how many. Safe to run any time."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
