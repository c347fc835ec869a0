"""Submitting from the web form at the estimate the user saw.

The submit page shows an estimate (backend, cost, sign-off) and posts back what it showed. A job that
costs money or waits for an approver is created only if the estimate at the moment of submission is
the one the user confirmed; otherwise nothing is created and the page shows the new estimate, asking
again. The comparison is made on the job as `services.job_submit` decided it, inside a transaction
that is rolled back on a mismatch, so no price change between the check and the write can slip
through (the submission's side effects run on commit, so a withdrawn job leaves none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from budgets.money import format_money
from jobs import services
from jobs.models import Job

logger = logging.getLogger(__name__)

# names of the hidden inputs that carry the estimate on screen back with the form
SHOWN_FIELDS = ("shown_backend", "shown_cost", "shown_approval")


@dataclass(frozen=True)
class ShownEstimate:
    """What an estimate says that a user agrees to: where the job runs, its price, whether it waits."""

    backend: str
    cost_micros: int
    needs_approval: bool

    @classmethod
    def from_post(cls, data: Any) -> ShownEstimate | None:
        """The estimate the form carried (None when it carried none, e.g. without JavaScript)."""
        backend, cost, approval = (str(data.get(name) or "").strip() for name in SHOWN_FIELDS)
        if not backend or not cost.isdigit() or approval not in {"yes", "no"}:
            return None
        return cls(backend, int(cost), approval == "yes")

    @classmethod
    def of_quote(cls, quote: services.Quote) -> ShownEstimate:
        return cls(quote.backend, quote.cost_micros, quote.needs_approval)

    @classmethod
    def of_job(cls, job: Job) -> ShownEstimate:
        return cls(job.backend, int((job.estimate or {}).get("cost_micros") or 0), job.needs_approval)

    @property
    def asks_confirmation(self) -> bool:
        return self.cost_micros > 0 or self.needs_approval

    def as_post(self) -> dict[str, str]:
        values = (self.backend, str(self.cost_micros), "yes" if self.needs_approval else "no")
        return dict(zip(SHOWN_FIELDS, values, strict=True))


def confirmation_text(quote: services.Quote) -> str:
    """The question asked before submitting a job that costs money or needs sign-off ('' otherwise)."""
    shown = ShownEstimate.of_quote(quote)
    if not shown.asks_confirmation:
        return ""
    where = f"{quote.backend} (emulated)" if quote.emulated else quote.backend
    parts = [f"This job costs {format_money(quote.cost_micros)} on {where}"]
    if quote.needs_approval:
        parts.append("it waits for an approver's sign-off before it runs")
    return "; ".join(parts) + ". Submit it?"


class EstimateChanged(Exception):
    """The estimate at submission is not the one the user confirmed; `quote` is the new one."""

    def __init__(self, quote: services.Quote) -> None:
        super().__init__("the estimate changed since it was shown")
        self.quote = quote


class _Withdrawn(Exception):
    pass


def needs_new_confirmation(shown: ShownEstimate | None, actual: ShownEstimate) -> bool:
    """Whether `actual` may not be created on the strength of what the user saw.

    Free jobs that wait for nobody need no confirmation, even when the backend changed; a job that
    costs money or waits for sign-off, or one shown as such, must match what was shown exactly."""
    if shown == actual:
        return False
    return actual.asks_confirmation or (shown is not None and shown.asks_confirmation)


def submit_as_shown(*, user: AbstractBaseUser, request: dict[str, Any], shown: ShownEstimate | None) -> Job:
    """Submit `request` as `services.job_submit` would, if its estimate is what the user confirmed.

    Raises EstimateChanged (with the current quote) and creates nothing when it is not; raises the
    submission's own ContractError/ServiceError otherwise."""
    try:
        with transaction.atomic():
            job = services.job_submit(user=user, request=request).job
            if needs_new_confirmation(shown, ShownEstimate.of_job(job)):
                raise _Withdrawn(str(job.pk))
    except _Withdrawn as withdrawn:
        logger.info("job withdrawn: its estimate is not the one confirmed", extra={"job_id": str(withdrawn)})
        raise EstimateChanged(services.job_quote(user=user, request=request)) from None
    return job
