"""What the UI's pages show, composed from the scoped selectors: dashboard panels, the actions a user
may take on a job, approval rows with their budget impact, and the backends overview.

Everything here starts from a `*_for_user` selector, so team scoping is never re-implemented.
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F
from django.http import HttpRequest
from django.utils import timezone

from adapters.registry import all_capabilities
from budgets.models import Role
from budgets.selectors import budgets_for_user, current_team, usage_bar
from jobs import controls
from jobs.models import Approval, ApprovalStatus, Job, JobStatus
from jobs.selectors import jobs_for_user, queue_depths

# ?sort= value → ORDER BY (the second key keeps pages stable)
JOB_SORTS = {
    "-created": ("-created_at", "id"),
    "created": ("created_at", "id"),
    "status": ("status", "-created_at"),
    "-status": ("-status", "-created_at"),
    "cost": (F("cost_micros").asc(nulls_first=True), "-created_at"),
    "-cost": (F("cost_micros").desc(nulls_last=True), "-created_at"),
}
RECENT_FAILURES = timedelta(hours=24)


def _jobs(request: HttpRequest, **filters: Any) -> Any:
    jobs = jobs_for_user(request.user, **filters)
    team = current_team(request)
    return jobs.filter(team=team) if team is not None else jobs


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def _runtimes(request: HttpRequest) -> dict[str, Any]:
    since = timezone.now() - timedelta(hours=24)
    rows = _jobs(request).filter(finished_at__gte=since, started_at__isnull=False, cached_from__isnull=True)
    seconds = [(f - s).total_seconds() for s, f in rows.values_list("started_at", "finished_at")[:5000]]
    return {
        "count": len(seconds),
        "mean": statistics.fmean(seconds) if seconds else None,
        "p95": _percentile(seconds, 95) if seconds else None,
    }


def _failures(request: HttpRequest) -> list[dict[str, Any]]:
    """Failed jobs of the last 24 h grouped by error code, each with one example message."""
    failed = _jobs(request, status=JobStatus.FAILED).filter(finished_at__gte=timezone.now() - RECENT_FAILURES)
    groups = failed.values("error_code").annotate(n=Count("id")).order_by("-n", "error_code")[:8]
    return [
        {**group, "example": failed.filter(error_code=group["error_code"]).values("id", "error_message").first()}
        for group in groups
    ]


def _budgets(request: HttpRequest) -> list[dict[str, Any]]:
    budgets = budgets_for_user(request.user)
    team = current_team(request)
    if team is not None:
        budgets = budgets.filter(team=team)
    return [{"budget": b, "usage": usage_bar(b)} for b in budgets]


def _queues() -> dict[str, Any]:
    depths = queue_depths()
    caps = {c.backend_id: c for c in all_capabilities()}
    return {
        "clusters": depths["by_cluster"],
        "backends": [{**row, "cap": caps.get(row["backend"])} for row in depths["by_backend"]],
    }


def dashboard_panel_context(request: HttpRequest, panel: str) -> Any:
    match panel:
        case "queues":
            return _queues()
        case "running":
            return list(_jobs(request, status=JobStatus.RUNNING).select_related("experiment")[:10])
        case "runtimes":
            return _runtimes(request)
        case "failures":
            return _failures(request)
        case "budgets":
            return _budgets(request)
        case "approvals":
            return _jobs(request, status=JobStatus.AWAITING_APPROVAL).count()
        case "recent":
            return list(_jobs(request)[:8])
    raise ValueError(panel)


# --- job page -------------------------------------------------------------------------------------
def job_actions(job: Job) -> set[str]:
    """The lifecycle buttons the job's status admits: exactly what the services accept (jobs.controls)."""
    return controls.available(job.status)


# --- approvals ------------------------------------------------------------------------------------
def _job_of(item: Any) -> Job:
    return item.job if isinstance(item, Approval) else item


def approval_rows(user: AbstractBaseUser, pending: Any) -> list[dict[str, Any]]:
    """Each pending job with who submitted it, its estimate, remaining budget before → after it runs, and
    why the budget's tier cap refuses it as it stands ("" when it does not)."""
    rows = []
    budgets = {(b.team_id, b.experiment_class_id): b for b in budgets_for_user(user)}
    for item in pending:
        job = _job_of(item)
        budget = budgets.get((job.team_id, job.experiment_class_id))
        cost = (job.estimate or {}).get("cost_micros", 0) or 0
        held = getattr(getattr(job, "hold", None), "amount_micros", None) if _has_hold(job) else None
        remaining = budget.remaining_micros if budget else None
        before = None if remaining is None else remaining + (held or 0)
        after = None if before is None else before - cost
        rows.append(
            {
                "job": job,
                "approval": getattr(job, "approval", None),
                "cost": cost,
                "before": before,
                "after": after,
                "own": job.submitted_by_id == user.pk,
                "can_decide": _can_decide(user, job),
                # The budget's cap may have been lowered since the job was sent: approving it as is fails.
                "refusal": budget.tier_refusal(job.tier) if budget and not budget.allows_tier(job.tier) else "",
            }
        )
    return rows


def _has_hold(job: Job) -> bool:
    try:
        return job.hold is not None
    except Exception:  # RelatedObjectDoesNotExist: the job holds no money
        return False


def _can_decide(user: AbstractBaseUser, job: Job) -> bool:
    return (
        job.submitted_by_id != user.pk
        and user.memberships.filter(team_id=job.team_id, role__in=[Role.APPROVER, Role.ADMIN]).exists()
    )


def recent_decisions_by_others(user: AbstractBaseUser, since: Any) -> list[Approval]:
    """Approvals other people decided lately on the user's teams' jobs: shown as notes in the inbox."""
    team_jobs = jobs_for_user(user)
    return list(
        Approval.objects.select_related("job", "decided_by")
        .filter(job__in=team_jobs, decided_at__gte=since)
        .exclude(decided_by=user)
        .exclude(status=ApprovalStatus.PENDING)
        .order_by("-decided_at")[:5]
    )


# --- backends -------------------------------------------------------------------------------------
def backends_overview() -> list[dict[str, Any]]:
    """Every registered backend with its queued and running job counts (all teams: counts only)."""
    depths = {row["backend"]: row for row in queue_depths()["by_backend"]}
    return [
        {"cap": cap, "queued": depths.get(cap.backend_id, {}).get("queued", 0),
         "running": depths.get(cap.backend_id, {}).get("running", 0)}
        for cap in sorted(all_capabilities(), key=lambda c: (c.tier, c.backend_id))
    ]  # fmt: skip
