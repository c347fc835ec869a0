"""Helpers for the orchestration tests (submit, cache, idempotency, lifecycle, policy, approvals)."""

from __future__ import annotations

from typing import Any

from django_q.models import OrmQ

from budgets.models import PriceModel, PriceModelKind
from budgets.money import to_micros


def ghz(experiment: Any, n: int = 3, **overrides: Any) -> dict[str, Any]:
    """A small, valid job request body."""
    return {"experiment": experiment.pk, "family": "ghz", "params": {"n_qubits": n}, "shots": 200, **overrides}


def enqueued_job_ids() -> list[str]:
    """Job ids with a task waiting in the django-q2 ORM broker (what a worker would pick up)."""
    return [str(row.task["args"][0]) for row in OrmQ.objects.all()]


def price(backend_id: str, per_task: str) -> PriceModel:
    """An admin price override: `per_task` in the currency's major unit for every run."""
    return PriceModel.objects.create(
        backend_id=backend_id, kind=PriceModelKind.PER_TASK_SHOT, per_task_micros=to_micros(per_task)
    )
