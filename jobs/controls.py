"""Which lifecycle controls (pause, resume, cancel, reroute, re-run) a job's status admits.

Derived from `lifecycle.ALLOWED`, the table every status change is checked against, and read both by
the services that act and by the pages that offer the buttons: a page never offers what the service
would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.lifecycle import ALLOWED
from jobs.models import JobStatus

# A job is `submitted` only inside its submit transaction: nobody can act on it.
_SETTLED = frozenset(ALLOWED) - {JobStatus.SUBMITTED}


@dataclass(frozen=True)
class Control:
    """A control moves a job to one of `targets`; it applies in every settled status from which all of
    them are allowed (and, with `only`, only in those statuses)."""

    targets: frozenset[str]
    only: frozenset[str] | None = None

    def statuses(self) -> frozenset[str]:
        return frozenset(s for s in _SETTLED if self.targets <= ALLOWED[s] and (self.only is None or s in self.only))


CONTROLS: dict[str, Control] = {
    "pause": Control(frozenset({JobStatus.PAUSED})),
    # back to where it was paused from: the queue or the approver
    "resume": Control(frozenset({JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL}), only=frozenset({JobStatus.PAUSED})),
    "cancel": Control(frozenset({JobStatus.CANCELLED})),
    # re-estimated on the new backend, it queues or waits for a sign-off again
    "reroute": Control(frozenset({JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL})),
}
STATUSES: dict[str, frozenset[str]] = {name: control.statuses() for name, control in CONTROLS.items()}
# A finished job never changes again (no entry in ALLOWED): it can only be run again, as a new job.
STATUSES["rerun"] = frozenset(JobStatus.values) - frozenset(ALLOWED)


def allows(action: str, status: str) -> bool:
    """Whether `action` may be taken on a job in `status`."""
    return status in STATUSES.get(action, frozenset())


def available(status: str) -> set[str]:
    """The controls a job in `status` offers."""
    return {name for name, statuses in STATUSES.items() if status in statuses}
