"""Backend prices: the admin's overrides (budgets.PriceModel) as adapter prices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import Price, PriceKind
from budgets.models import PriceModel
from jobs import slow_reads
from jobs.policy.shared import shared_read


@shared_read
def price_overrides() -> dict[str, Price]:
    """The admin's price overrides (budgets.PriceModel) as adapter prices, by backend id."""

    def read() -> dict[str, Price]:
        return {row.backend_id: price_of(row.__dict__) for row in PriceModel.objects.all()}

    return slow_reads.cached(slow_reads.PRICES, read)


def price_of(row: Mapping[str, Any]) -> Price:
    """An adapter price from a PriceModel row's fields (a model's `__dict__`)."""
    return Price(
        kind=PriceKind(row["kind"]),
        per_task_micros=int(row["per_task_micros"]),
        per_shot_micros=int(row["per_shot_micros"]),
        per_second_micros=int(row["per_second_micros"]),
        per_minute_micros=int(row["per_minute_micros"]),
        min_seconds=float(row["min_seconds"]),
    )
