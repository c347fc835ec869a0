"""Plotly figures for the job page, built as plain dicts on the server and drawn by the vendored
plotly.min.js (the page embeds the JSON; nothing is fetched from a CDN)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from jobs.families import get_family
from jobs.metrics import uniform_floor
from jobs.models import Job, Stage
from jobs.selectors import job_timeline

TOP_OUTCOMES = 64
IDEAL_MAX_QUBITS = 20  # wider ideals are sparse for the families that have one; denser ones are skipped
STAGE_ORDER = [
    Stage.VALIDATE,
    Stage.ASSEMBLE,
    Stage.SELECT,
    Stage.APPROVAL_WAIT,
    Stage.QUEUE_WAIT,
    Stage.VENDOR_QUEUE,
    Stage.TRANSPILE,
    Stage.EXECUTE,
    Stage.PARSE,
    Stage.POSTPROCESS,
]
STAGE_COLOURS = {
    Stage.VALIDATE: "#91a7ff",
    Stage.ASSEMBLE: "#748ffc",
    Stage.SELECT: "#5c7cfa",
    Stage.APPROVAL_WAIT: "#fab005",
    Stage.QUEUE_WAIT: "#adb5bd",
    Stage.VENDOR_QUEUE: "#868e96",
    Stage.TRANSPILE: "#9775fa",
    Stage.EXECUTE: "#20c997",
    Stage.PARSE: "#4dabf7",
    Stage.POSTPROCESS: "#3bc9db",
}
_LAYOUT = {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 12}}


def timeline_figure(job: Job) -> dict[str, Any] | None:
    """A Gantt of the job's stages (timed stages and the waits derived from transitions); None if empty."""
    now = timezone.now()
    spans = [{**s, "end": s["end"] or now} for s in job_timeline(job) if s["stage"] in STAGE_ORDER]
    if not spans:
        return None
    traces = []
    for stage in STAGE_ORDER:
        mine = [s for s in spans if s["stage"] == stage]
        if not mine:
            continue
        ms = [max((s["end"] - s["start"]) / timedelta(milliseconds=1), 1.0) for s in mine]
        label = mine[0]["label"]
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": label,
                "y": [label] * len(mine),
                "base": [s["start"].isoformat() for s in mine],
                "x": ms,
                "marker": {"color": STAGE_COLOURS[stage]},
                "customdata": [_duration_text(m) for m in ms],
                "hovertemplate": "%{y}: %{customdata}<extra></extra>",
            }
        )
    order = [t["name"] for t in traces]
    layout = {
        **_LAYOUT,
        "height": 70 + 30 * len(order),
        "margin": {"l": 110, "r": 20, "t": 10, "b": 35},
        "barmode": "overlay",
        "showlegend": False,
        # automargin: the rotated time labels of a long timeline grow the margin instead of being cut off
        "xaxis": {"type": "date", "gridcolor": "#eef1f6", "tickformat": "%H:%M:%S.%L", "automargin": True},
        "yaxis": {"categoryorder": "array", "categoryarray": list(reversed(order)), "automargin": True},
    }
    return {"data": traces, "layout": layout}


def _duration_text(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _ideal(job: Job) -> dict[str, float] | None:
    if job.n_qubits > IDEAL_MAX_QUBITS and job.family not in {"ghz", "bernstein_vazirani", "mirror"}:
        return None
    try:
        family = get_family(job.family, job.family_version)
        if family.ideal is None:
            return None
        ideal = family.ideal(family.parse(job.params))
    except Exception:  # a family that cannot rebuild its ideal shows the measured bars alone
        return None
    return dict(ideal) if ideal else None


def histogram(job: Job) -> dict[str, Any] | None:
    """The result as probabilities per bitstring (qubit 0 leftmost), sorted by bitstring; only the
    TOP_OUTCOMES most frequent when wider. The ideal is overlaid where the family knows it."""
    if not job.counts:
        return None
    total = sum(job.counts.values())
    outcomes = sorted(job.counts, key=lambda b: -job.counts[b])[:TOP_OUTCOMES]
    ideal = _ideal(job)
    if ideal:
        top_ideal = sorted(ideal, key=lambda b: -ideal[b])[: TOP_OUTCOMES // 4]
        outcomes = list(dict.fromkeys(outcomes + top_ideal))[:TOP_OUTCOMES]
    outcomes.sort()
    data = [
        {
            "type": "bar",
            "name": "measured",
            "x": outcomes,
            "y": [job.counts.get(b, 0) / total for b in outcomes],
            "marker": {"color": "#3b5bdb"},
            "hovertemplate": "%{x}: %{y:.4f}<extra>measured</extra>",
        }
    ]
    if ideal:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "ideal",
                "x": outcomes,
                "y": [ideal.get(b, 0.0) for b in outcomes],
                "marker": {"color": "#f08c00", "symbol": "line-ew-open", "size": 22, "line": {"width": 3}},
                "hovertemplate": "%{x}: %{y:.4f}<extra>ideal</extra>",
            }
        )
    n_bits = len(outcomes[0])
    layout = {
        **_LAYOUT,
        "height": 320,
        "margin": {"l": 55, "r": 10, "t": 10, "b": 80 if n_bits > 6 else 45},
        "bargap": 0.25,
        "legend": {"orientation": "h", "y": 1.08, "x": 1, "xanchor": "right"},
        # automargin: rotated labels of wide bitstrings push the axis title down instead of under it.
        "xaxis": {"type": "category", "title": {"text": "bitstring (qubit 0 leftmost)", "standoff": 8},
                  "tickfont": {"family": "monospace"}, "automargin": True},
        "yaxis": {"title": {"text": "probability"}, "rangemode": "tozero", "gridcolor": "#eef1f6"},
    }  # fmt: skip
    fidelity = (job.metrics or {}).get("hellinger_fidelity")
    return {
        "figure": {"data": data, "layout": layout},
        "outcomes": len(job.counts),
        "shown": len(outcomes),
        "shots": total,
        "fidelity": fidelity,
        "floor": uniform_floor(ideal, n_bits) if ideal else None,
        "has_ideal": bool(ideal),
    }
