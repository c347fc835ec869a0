"""Pages that combine apps and so live at the top of the import chain (hybridportal → jobs → budgets)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from budgets.selectors import current_team, teams_for_user
from hybridportal.observability import slo_summary


@login_required
def slo_panel(request: HttpRequest) -> HttpResponse:
    """The dashboard's SLO card: the portal's objectives over the last 7 days, for the user's teams."""
    team = current_team(request)
    team_ids = [team.pk] if team else list(teams_for_user(request.user).values_list("pk", flat=True))
    return render(request, "jobs/dashboard.html#slos", {"slos": slo_summary(team_ids=team_ids)})
