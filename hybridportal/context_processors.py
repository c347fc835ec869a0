"""What every page's layout needs: the team switcher, the user's role, budget alerts, approvals badge."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from budgets.models import Role
from budgets.selectors import active_alerts_for_user, current_team, teams_for_user
from jobs.selectors import approvals_waiting_count

# URL name → the navigation entry it belongs to.
NAV_SECTIONS = {
    "dashboard": "dashboard",
    "submit": "submit",
    "job_list": "jobs",
    "job_detail": "jobs",
    "experiment_list": "experiments",
    "experiment_new": "experiments",
    "experiment_detail": "experiments",
    "approvals": "approvals",
    "budgets": "budgets",
    "backends": "backends",
    "tokens": "tokens",
}


def portal(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    team = current_team(request)
    memberships = list(request.user.memberships.all())
    roles = {m.role for m in memberships if team is None or m.team_id == team.pk}
    can_approve = bool(roles & {Role.APPROVER, Role.ADMIN})
    if request.htmx:  # partials need no layout: skip the alerts and counts
        return {"current_team": team, "can_approve": can_approve}
    alerts = active_alerts_for_user(request.user)
    if team is not None:
        alerts = alerts.filter(budget__team=team)
    match = request.resolver_match
    return {
        "portal_teams": teams_for_user(request.user),
        "current_team": team,
        "current_role": ", ".join(sorted(Role(r).label.lower() for r in roles)),
        "can_approve": can_approve,
        "pending_approvals_count": approvals_waiting_count(request.user) if can_approve else 0,
        "budget_alerts": list(alerts),
        "nav_section": NAV_SECTIONS.get(match.url_name if match else "", ""),
    }
