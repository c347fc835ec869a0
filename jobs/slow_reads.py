"""Reads of what changes slowly — admin price overrides, the policy's run records — kept per process.

Every quote asks for them, and they change far less often than quotes are made: each is read with the
ORM and kept in this process's local-memory cache (Django's `LocMemCache`, as `jobs.estimates` keeps
its models) for `SLOW_READS_SECONDS`. Saving or deleting a price override drops the cached prices at
once in the process that saved it; other processes read them again within the TTL. Run records may be
up to the TTL old: a circuit breaker opens or closes that much later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from budgets.models import PriceModel

T = TypeVar("T")

PRICES = "prices"
_RUNS = "runs"


_kept = LocMemCache("hybridportal-slow-reads", {"MAX_ENTRIES": 1000})


def _cache() -> LocMemCache:
    return _kept


def cached(key: str, read: Callable[[], T]) -> T:
    """`read()`'s answer, from this process's cache while it is younger than `SLOW_READS_SECONDS`."""
    seconds = float(settings.SLOW_READS_SECONDS)
    if seconds <= 0:
        return read()
    found = _cache().get(key)
    if found is None:
        found = read()
        _cache().set(key, found, seconds)
    return found


def runs_key(*parts: object) -> str:
    """A cache key of one run-record question."""
    return ":".join([_RUNS, *(str(p) for p in parts)])


def forget() -> None:
    """Drop everything kept here (tests: the database rolls back between them, the process does not)."""
    _cache().clear()


@receiver(post_save, sender=PriceModel, dispatch_uid="slow_reads_price_saved")
@receiver(post_delete, sender=PriceModel, dispatch_uid="slow_reads_price_deleted")
def _price_changed(**kwargs: Any) -> None:
    _cache().delete(PRICES)
