"""Template helpers shared by every page: money, status and backend badges, durations."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from budgets.models import TIER_NAMES
from budgets.money import format_money
from jobs.costs import job_cost as cost_of

register = template.Library()
EMULATED_TITLE = "a local emulation of the device's calibration, queue and price: not a real QPU"


@register.filter
def money(micros: int | None) -> str:
    return "—" if micros is None else format_money(micros)


@register.filter
def price_text(price: Any) -> str:
    """A backend's price model with the currency and unit: "USD 1.60 per QPU-second"."""
    return price.describe(settings.CURRENCY)


@register.filter
def seconds(value: float | str | None) -> str:
    """1.234 → '1.23 s', 95 → '1 min 35 s'; '—' for a missing value."""
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    if value < 0.01:
        return "< 0.01 s"
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"
    minutes, secs = divmod(round(value), 60)
    return f"{minutes} min {secs} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


@register.filter
def tier_name(tier: int | None) -> str:
    return "—" if tier is None else f"{tier} · {TIER_NAMES.get(tier, 'tier')}"


@register.simple_tag
def status_badge(status: str, label: str = "", large: bool = False) -> str:
    text = label or status.replace("_", " ")
    size = " badge-lg" if large else ""
    return format_html('<span class="badge status-{}{}">{}</span>', status, size, text)


@register.simple_tag
def backend_label(backend_id: str, emulated: Any = False, tier: int | None = None) -> str:
    """A backend id with its tier and, for an emulated device, the EMULATED badge (never omitted)."""
    if not backend_id:
        return format_html('<span class="muted">not chosen yet</span>')
    tier_html = format_html(' <span class="badge badge-tier">tier {}</span>', tier) if tier is not None else ""
    emulated_html = (
        format_html(' <span class="badge badge-emulated" title="{}">emulated</span>', EMULATED_TITLE)
        if emulated
        else ""
    )
    return format_html("<code>{}</code>{}{}", backend_id, tier_html, emulated_html)


@register.simple_tag
def job_cost(job: Any, hold: Any = None) -> str:
    """A finished job's charge ("USD 0.00 (released)" when its reservation went back); "~estimate" while
    it is in flight."""
    cost = cost_of(job, hold)
    if not cost.final:
        return format_html('<span class="muted" title="estimate">~{}</span>', money(cost.micros))
    if cost.released:
        return format_html('{} <span class="muted">(released)</span>', money(cost.micros))
    return money(cost.micros)


@register.filter
def short_id(value: Any) -> str:
    return str(value)[:8]


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


@register.filter(name="get")
def get_item(mapping: Any, key: str) -> Any:
    """{{ errors|get:field.html_name }}: a dict lookup with a variable key."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


@register.filter
def ago(when: Any) -> str:
    """'just now', '5 minutes ago', for recent timestamps."""
    if when is None:
        return "—"
    if (timezone.now() - when).total_seconds() < 60:
        return "just now"
    return f"{timesince(when)} ago"


@register.filter
def elapsed(job: Any) -> str:
    """How long a job ran (started → finished)."""
    if not (job.started_at and job.finished_at):
        return "—"
    return seconds((job.finished_at - job.started_at).total_seconds())


@register.filter(name="json")
def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
