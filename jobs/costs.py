"""What a job costs, as the pages show it: the estimate while it is in flight, and once it is finished
what its budget was actually charged.

A succeeded job is charged its settled cost; a failed, rejected or cancelled one is charged nothing
(its reservation goes back to the budget), unless a hold says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from budgets.models import Hold, HoldStatus
from jobs.models import Job, JobStatus


@dataclass(frozen=True)
class Cost:
    micros: int | None
    final: bool  # False: an estimate, the job is still in flight
    released: bool = False  # a finished job whose reservation went back to the budget


def job_cost(job: Job, hold: Hold | None = None) -> Cost:
    """The job's cost; `hold` (the job's, when the caller read it) gives the exact settled amount, which
    is below the job's cost when a vendor's bill went beyond the budget's limit."""
    if not job.is_terminal:
        return Cost((job.estimate or {}).get("cost_micros"), final=False)
    settled = hold.settled_micros if hold is not None and hold.status == HoldStatus.SETTLED else None
    if job.status == JobStatus.SUCCEEDED:
        return Cost(settled if settled is not None else (job.cost_micros or 0), final=True)
    charged = settled if settled is not None else (job.cost_micros or 0)
    reserved = hold.amount_micros if hold is not None else (job.estimate or {}).get("cost_micros") or 0
    return Cost(charged, final=True, released=charged == 0 and reserved > 0)
