"""Budgets, API tokens and the team switcher: the UI side of the budgets app."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from budgets.models import Budget, LedgerEntry, LedgerKind
from budgets.money import from_micros
from budgets.selectors import (
    SESSION_TEAM,
    active_alerts_for_user,
    budgets_for_user,
    current_team,
    holds_for_budget,
    ledger_for_budget,
    teams_for_user,
    tokens_for_user,
    usage_bar,
)
from budgets.services.tokens import TOKEN_SCOPES, token_issue, token_revoke

NEW_TOKEN_SESSION_KEY = "new_token_secret"  # noqa: S105 - a session key name, not a secret


# --- team switcher --------------------------------------------------------------------------------
@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("team", "")
    team = teams_for_user(request.user).filter(slug=slug).first() if slug else None
    request.session[SESSION_TEAM] = team.slug if team else ""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = "dashboard"
    return redirect(target)


# --- budgets --------------------------------------------------------------------------------------
# How each ledger kind moves "remaining" (limit − spent − reserved); settle is special (see below).
_REMAINING_SIGN = {
    LedgerKind.RESERVE: -1,
    LedgerKind.RELEASE: 1,
    LedgerKind.EXPIRE: 1,
    LedgerKind.TOP_UP: 1,
    LedgerKind.SET_LIMIT: 1,
    LedgerKind.NEW_PERIOD: -1,  # amount is −(spent cleared): remaining grows by it
}


def _remaining_delta(entry: LedgerEntry) -> int:
    if entry.kind == LedgerKind.SETTLE:
        # The hold's amount leaves `reserved`, the charge enters `spent`; a charge below the hold is
        # returned by a separate RELEASE entry, so only an overrun moves `remaining` here.
        held = entry.hold.amount_micros if entry.hold else entry.amount_micros
        return -max(0, entry.amount_micros - held)
    return _REMAINING_SIGN.get(entry.kind, 0) * entry.amount_micros


def burn_down_figure(budget: Budget, entries: list[LedgerEntry]) -> dict[str, Any]:
    """Remaining money over time, walked back from today's balance through the newest ledger entries."""
    remaining = budget.remaining_micros
    xs, ys = [timezone.now().isoformat()], [float(from_micros(remaining))]
    for entry in entries:  # newest first
        xs.append(entry.created_at.isoformat())
        ys.append(float(from_micros(remaining)))
        remaining -= _remaining_delta(entry)
    xs.reverse()
    ys.reverse()
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "line": {"shape": "hv", "color": "#3b5bdb", "width": 2},
             "fill": "tozeroy", "fillcolor": "rgba(59,91,219,.08)", "x": xs, "y": ys, "name": "remaining",
             "hovertemplate": "%{x}<br>%{y:.2f} remaining<extra></extra>"},
        ],
        "layout": {
            "height": 220, "margin": {"l": 50, "r": 10, "t": 10, "b": 35},
            "yaxis": {"title": {"text": settings.CURRENCY}, "range": _remaining_range(ys), "gridcolor": "#eef1f6"},
            "xaxis": {"gridcolor": "#eef1f6"},
            "showlegend": False, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        },
    }  # fmt: skip


def _remaining_range(ys: list[float]) -> list[float]:
    """The y-axis around what the line does: from zero, a spend of cents against a limit of hundreds
    is a flat line. A line that never moved gets a band around its value."""
    low, high = min(ys), max(ys)
    pad = (high - low) * 0.15 or max(abs(high) * 0.05, 0.01)
    return [max(0.0, low - pad) if low >= 0 else low - pad, high + pad]


def _budget_card(budget: Budget) -> dict[str, Any]:
    entries = list(ledger_for_budget(budget, limit=300))
    return {
        "budget": budget,
        "usage": usage_bar(budget),
        "figure_id": f"burn-{budget.pk}",
        "holds": holds_for_budget(budget, status="pending")[:20],
        # Free jobs reserve and settle 0: true, but noise in a list of money movements.
        "ledger": [e for e in entries if e.amount_micros][:12],
        "figure": burn_down_figure(budget, entries),
    }


@login_required
def budgets_page(request: HttpRequest) -> HttpResponse:
    budgets = budgets_for_user(request.user)
    alerts = active_alerts_for_user(request.user)
    team = current_team(request)
    if team is not None:
        budgets, alerts = budgets.filter(team=team), alerts.filter(budget__team=team)
    cards = [_budget_card(b) for b in budgets]
    return render(request, "budgets/budgets.html", {"cards": cards, "alerts": alerts})


# --- API tokens -----------------------------------------------------------------------------------
class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="So you can tell your tokens apart.")
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in TOKEN_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=["read"],
        help_text="read: list and fetch · submit: create jobs · approve: decide approvals.",
    )
    days = forms.IntegerField(min_value=1, max_value=366, initial=90, help_text="Expires after this many days.")


@login_required
def tokens_page(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, secret = token_issue(user=request.user, **form.cleaned_data)
        request.session[NEW_TOKEN_SESSION_KEY] = secret  # shown on the next page view only
        messages.success(request, f"Token {token.prefix}… created. Copy it now: it is not shown again.")
        return redirect("tokens")
    context = {
        "form": form,
        "tokens": tokens_for_user(request.user),
        "new_secret": request.session.pop(NEW_TOKEN_SESSION_KEY, None),
        "now": timezone.now(),
    }
    return render(request, "budgets/tokens.html", context)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(tokens_for_user(request.user), pk=token_id)
    if token_revoke(token=token, actor=request.user):
        messages.success(request, f"Token {token.prefix}… revoked. Clients using it now get 401.")
    return redirect("tokens")
