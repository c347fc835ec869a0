"""The API's per-caller rate limit: a fixed window per caller, counted in the database.

Django's cache cannot count exactly here: the configured cache is the database cache, whose `incr` is a
read then a write, so concurrent requests all read the same count and all get through. A conditional
UPDATE (`count < limit`) is exact instead: on PostgreSQL a second UPDATE of the row waits for the first
and re-checks its WHERE against the committed count, so exactly `limit` requests a window pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from budgets.models import ApiRateWindow


def rate_limit_hit(*, key: str, limit: int, window_seconds: float, now: datetime | None = None) -> float:
    """Count one request of `key`. Returns 0.0 when it is within `limit` requests of the caller's
    current window (which begins at the first request after the last one ended), else the seconds
    until that window ends (for `Retry-After`)."""
    now = now or timezone.now()
    window = timedelta(seconds=window_seconds)
    rows = ApiRateWindow.objects.filter(key=key)
    for _ in range(3):  # each turn loses only to a request that changed the row meanwhile
        if rows.filter(started_at__gt=now - window, count__lt=limit).update(count=F("count") + 1):
            return 0.0
        found = rows.values_list("started_at", "count").first()
        if found is None:
            try:
                with transaction.atomic():
                    ApiRateWindow.objects.create(key=key, started_at=now, count=1)
                return 0.0
            except IntegrityError:  # a concurrent first request created it: count against it
                continue
        started, count = found
        if started > now - window:
            if count >= limit:
                return (started + window - now).total_seconds()
            continue  # a new window began since the UPDATE above: count against it
        if rows.filter(started_at=started).update(started_at=now, count=1):  # the old window ended
            return 0.0
    return 1.0
