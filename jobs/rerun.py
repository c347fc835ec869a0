"""Running a job again: the request a re-run submits, and the submit form prefilled for "edit and re-run".

A job's backend can change after it was submitted (a reroute, an approver's change), so a re-run says
which backend it means: the request as submitted (its pin, or the policy's choice again), or the backend
the job ran on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from budgets.errors import Invalid
from budgets.money import from_micros
from jobs.models import Job

AS_SUBMITTED = "submitted"
RAN_ON = "ran_on"
CHOICES = (AS_SUBMITTED, RAN_ON)


def backend_for(job: Job, on: str) -> str:
    """The backend pin a re-run `on` uses ('' lets the policy choose again)."""
    if on == AS_SUBMITTED:
        return job.backend_pin
    if on == RAN_ON:
        return job.backend
    raise Invalid("choose to re-run the job as submitted or on the backend it ran on", field="on", code="invalid_rerun")


def request_for(job: Job, *, on: str = AS_SUBMITTED) -> dict[str, Any]:
    """The job contract body of a re-run: the job's request, pinned as `on` says, forced to execute."""
    request = {
        "experiment": job.experiment_id,
        "family": job.family,
        "family_version": job.family_version,
        "params": job.params,
        "objective": job.objective,
        "shots": job.shots,
        "max_tier": job.max_tier,
        "backend": backend_for(job, on) or None,
        "priority": job.priority,
        "labels": job.labels,
        "no_cache": True,
    }
    if job.budget_ceiling_micros is not None:
        request["budget_ceiling"] = str(from_micros(job.budget_ceiling_micros))
    return request


@dataclass(frozen=True)
class Option:
    """One re-run button: what it submits and what it is called."""

    on: str
    label: str
    help: str


def options(job: Job) -> list[Option]:
    """The re-run buttons a finished job offers: as submitted and on the backend it ran on, or one
    button when both mean the same backend."""
    submitted, ran_on = job.backend_pin, job.backend
    as_submitted = Option(
        AS_SUBMITTED,
        f"Re-run as submitted ({submitted})" if submitted else "Re-run as submitted",
        f"pinned to {submitted}, as first submitted" if submitted else "the portal picks the backend again",
    )
    if not ran_on or submitted == ran_on:
        return [as_submitted]
    return [as_submitted, Option(RAN_ON, f"Re-run on {ran_on}", f"pinned to {ran_on}, the backend it ran on")]


def form_initial(job: Job) -> dict[str, Any]:
    """The submit form's initial values for "edit and re-run": the job's request, pinned to the backend
    it ran on when the job was pinned (a reroute or an approver may have moved it since)."""
    return {
        "experiment": job.experiment_id,
        "family": job.family,
        "shots": job.shots,
        "max_tier": job.max_tier,
        "priority": job.priority,
        "backend": job.backend if job.backend_pin else "",
        "labels": ", ".join(job.labels or []),
        "no_cache": True,
    }
