"""The comparison chart: fidelity per backend per problem with 95 % error bars and the
perfect-sampler floor, as a plotly figure dict drawn by the vendored plotly.min.js."""

from __future__ import annotations

from typing import Any

PALETTE = ["#4263eb", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#c92a2a", "#5c940d", "#862e9c"]


def fidelity_figure(data: dict[str, Any]) -> dict[str, Any] | None:
    """Grouped bars (one group per problem, one bar per backend) with asymmetric CI error bars, and
    the perfect-sampler floor of each bar as a marker; None until some trial has a fidelity."""
    problems = [p["key"] for p in data["problems"]]
    backends: list[str] = list(data["run"]["backends"])
    traces: list[dict[str, Any]] = []
    floor_x: list[list[str]] = [[], []]  # (problem, backend) of each floor
    floor_y: list[float] = []
    any_value = False
    for i, backend in enumerate(backends):
        xs, ys, plus, minus, text = [], [], [], [], []
        for problem in data["problems"]:
            row = next((r for r in problem["rows"] if r["backend"] == backend), None)
            if row is None or row["fidelity"]["estimate"] is None:
                continue
            any_value = True
            f = row["fidelity"]
            xs.append(problem["key"])
            ys.append(f["estimate"])
            plus.append(max(f["high"] - f["estimate"], 0.0))
            minus.append(max(f["estimate"] - f["low"], 0.0))
            text.append(f"n={row['n']} · floor {row['floor']:.3f}" if row["floor"] is not None else f"n={row['n']}")
            if row["floor"] is not None:
                floor_x[0].append(problem["key"])
                floor_x[1].append(backend)
                floor_y.append(row["floor"])
        name = backend + (
            " (emulated)"
            if any(r["emulated"] for p in data["problems"] for r in p["rows"] if r["backend"] == backend)
            else ""
        )
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": xs,
                "y": ys,
                "text": text,
                "marker": {"color": PALETTE[i % len(PALETTE)]},
                "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
                "textposition": "none",
                "hovertemplate": "%{x} on " + name + ": F = %{y:.4f}<br>%{text}<extra></extra>",
                "offsetgroup": backend,
            }
        )
    if not any_value:
        return None
    # The floor depends on the ideal and the shots only, so it is one mark per problem.
    floors: dict[str, list[float]] = {}
    for x, y in zip(floor_x[0], floor_y, strict=True):
        floors.setdefault(x, []).append(y)
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "perfect-sampler floor",
            "x": list(floors),
            "y": [sum(v) / len(v) for v in floors.values()],
            "marker": {"symbol": "line-ew-open", "size": 60, "color": "#212529", "line": {"width": 2}},
            "hovertemplate": "%{x}: a perfect sampler scores %{y:.3f} at these shots<extra></extra>",
        }
    )
    layout = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"size": 12},
        "barmode": "group",
        "height": 340,
        "margin": {"l": 55, "r": 20, "t": 10, "b": 40},
        "yaxis": {"title": {"text": "Hellinger fidelity"}, "range": [0, 1.05], "gridcolor": "#eef1f6"},
        "xaxis": {"categoryorder": "array", "categoryarray": problems},
        "legend": {"orientation": "h", "y": -0.18},
    }
    return {"data": traces, "layout": layout}
