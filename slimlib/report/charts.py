"""Plotly figures built from plain data (lists of dicts), shared by the app and the HTML report.

Nothing here knows about Streamlit or models: every builder takes the numbers (points from
`slimlib.report.tradeoff.metrics_of`, rows from `slimlib.measure.inspection.param_breakdown`, an importance
matrix) and returns a `plotly.graph_objects.Figure`. The data logic (the Pareto front) lives in
`slimlib.report.tradeoff`, where it is tested without drawing.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import plotly.graph_objects as go

from .tradeoff import METRICS, dominated_flags, objectives_for, pareto_front

FRONT_COLOR = "#1f77b4"
FADED_OPACITY = 0.25
BASELINE_COLOR = "#2ca02c"
REFERENCE_COLOR = "#7f7f7f"
CURRENT_COLOR = "#d62728"
MIN_MARKER, MAX_MARKER = 9, 26


def _records(points) -> list[dict]:
    """Accept a list of dicts or a pandas DataFrame."""
    if hasattr(points, "to_dict"):
        return points.to_dict("records")
    return [dict(p) for p in points]


def _placeable(point: dict, *keys: str) -> bool:
    return all(point.get(k) is not None and point.get(k) == point.get(k) for k in keys)  # NaN != NaN


def marker_sizes(values: Sequence[float | None]) -> list[float]:
    """Marker diameters growing with the value (latency): slower configs draw bigger."""
    known = [v for v in values if v is not None]
    if not known:
        return [MIN_MARKER] * len(values)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(MIN_MARKER)
        elif span <= 0:
            out.append((MIN_MARKER + MAX_MARKER) / 2)
        else:
            out.append(round(MIN_MARKER + (MAX_MARKER - MIN_MARKER) * (v - low) / span, 2))
    return out


def _hover(point: dict, x: str, y: str) -> str:
    lines = [f"<b>{point.get('label') or 'config'}</b>"]
    for key in dict.fromkeys((x, y, "latency_ms", "size_mb", "sts_spearman")):
        value = point.get(key)
        if value is not None:
            lines.append(f"{key}: {value:.4g}" if isinstance(value, (int, float)) else f"{key}: {value}")
    if point.get("evaluation"):
        lines.append(f"evaluation: {point['evaluation']}")
    if point.get("recipe_text"):
        lines.append(point["recipe_text"].replace("\n", "<br>"))
    return "<br>".join(lines)


def tradeoff_figure(points, x: str = "size", y: str = "sts_retained", size: str | None = "latency_ms",
                    references: Iterable[dict] = (), current_id=None, title: str | None = None) -> go.Figure:
    """Every evaluated config as a point, the Pareto frontier drawn, dominated points faded.

    `points` are dicts with the metric keys of `slimlib.report.tradeoff.METRICS` plus `id` (returned on
    selection as customdata), `label`, `recipe_text` (hover) and `kind` ("config" or "baseline").
    `references` are published anchors (`slimlib.report.references`), drawn apart and labelled
    "published, not measured here", with their source in the hover text.
    """
    records = [p for p in _records(points) if _placeable(p, x, y)]
    objectives = objectives_for(x, y)
    dominated = dominated_flags(records, objectives)
    sizes = marker_sizes([p.get(size) if size else None for p in records])
    fig = go.Figure()

    def scatter(name, chosen, **marker):
        idx = [i for i in chosen]
        if not idx:
            return
        fig.add_trace(go.Scatter(
            name=name, mode="markers",
            x=[records[i][x] for i in idx], y=[records[i][y] for i in idx],
            customdata=[[records[i].get("id")] for i in idx],
            hovertext=[_hover(records[i], x, y) for i in idx], hoverinfo="text",
            marker=dict(size=[sizes[i] for i in idx], line=dict(width=1, color="white"), **marker),
        ))

    configs = [i for i, p in enumerate(records) if p.get("kind", "config") == "config"]
    scatter("frontier configs", [i for i in configs if not dominated[i]], color=FRONT_COLOR, opacity=0.95)
    scatter("dominated configs", [i for i in configs if dominated[i]], color=FRONT_COLOR, opacity=FADED_OPACITY)
    scatter("baseline (measured here)", [i for i, p in enumerate(records) if p.get("kind") == "baseline"],
            color=BASELINE_COLOR, symbol="star", opacity=1.0)

    front = pareto_front(records, objectives)
    if len(front) > 1:
        fig.add_trace(go.Scatter(name="Pareto frontier", mode="lines", x=[p[x] for p in front], y=[p[y] for p in front],
                                 line=dict(color=FRONT_COLOR, width=1.5, dash="dot", shape="hv"), hoverinfo="skip"))

    current = [i for i, p in enumerate(records) if current_id is not None and p.get("id") == current_id]
    if current:
        i = current[0]
        fig.add_trace(go.Scatter(name="current config", mode="markers", x=[records[i][x]], y=[records[i][y]],
                                 customdata=[[records[i].get("id")]], hovertext=[_hover(records[i], x, y)], hoverinfo="text",
                                 marker=dict(size=sizes[i] + 10, color="rgba(0,0,0,0)", line=dict(width=3, color=CURRENT_COLOR))))

    refs = [r for r in references if _placeable(r, x, y) and r.get("on_chart", True)]
    if refs:
        fig.add_trace(go.Scatter(
            name="published, not measured here", mode="markers+text",
            x=[r[x] for r in refs], y=[r[y] for r in refs], text=[r["short"] for r in refs], textposition="top center",
            textfont=dict(size=10, color=REFERENCE_COLOR),
            customdata=[[None] for _ in refs],
            hovertext=[f"<b>{r['name']}</b><br>published, not measured here<br>{r['claim']}<br>source: {r['source']}" for r in refs],
            hoverinfo="text",
            marker=dict(symbol="diamond-open", size=11, color=REFERENCE_COLOR, line=dict(width=2)),
        ))

    fig.update_layout(
        title=title, template="plotly_white", height=460, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis_title=METRICS[x].label, yaxis_title=METRICS[y].label,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        clickmode="event+select", dragmode="pan",
    )
    if x == "speedup" and any(r[x] > 10 for r in refs):
        fig.update_xaxes(type="log")
    return fig


def heads_figure(importance: Sequence[Sequence[float]], removed: dict[int, Iterable[int]] | None = None,
                 title: str | None = None) -> go.Figure:
    """Layers x heads importance as clickable squares; removed heads drawn as grey crosses.

    A scatter of square markers rather than a heatmap, so a click selects one cell (customdata
    [layer, head]) through Streamlit's point selection.
    """
    removed = {int(k): set(v) for k, v in (removed or {}).items()}
    xs, ys, colors, custom, hover, symbols = [], [], [], [], [], []
    for layer, row in enumerate(importance):
        for head, score in enumerate(row):
            gone = head in removed.get(layer, set())
            xs.append(head)
            ys.append(layer)
            colors.append(float(score))
            custom.append([layer, head])
            symbols.append("x" if gone else "square")
            hover.append(f"layer {layer}, head {head}<br>importance {float(score):.4g}<br>"
                         + ("removed: click to keep" if gone else "kept: click to remove"))
    n_layers = max(len(importance), 1)
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="markers", customdata=custom, hovertext=hover, hoverinfo="text", name="heads",
        marker=dict(symbol=symbols, size=30, color=colors, colorscale="Viridis", showscale=True,
                    colorbar=dict(title="importance"), line=dict(width=[3 if s == "x" else 0 for s in symbols], color="#444")),
    ))
    fig.update_layout(
        title=title, template="plotly_white", height=120 + 48 * n_layers, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(title="head", dtick=1), yaxis=dict(title="layer", dtick=1, autorange="reversed"),
        clickmode="event+select", dragmode=False,
    )
    return fig


def treemap_figure(rows: Sequence[dict], title: str | None = None) -> go.Figure:
    """Where the parameters live (rows from `slimlib.measure.inspection.param_breakdown`)."""
    rows = list(rows)
    fig = go.Figure(go.Treemap(
        ids=[r["id"] for r in rows], parents=[r["parent"] for r in rows], labels=[r["label"] for r in rows],
        values=[r["params"] for r in rows], branchvalues="total", textinfo="label+value+percent root",
        hovertemplate="%{label}<br>%{value:,} parameters<br>%{percentRoot:.1%} of the model<extra></extra>",
    ))
    fig.update_layout(title=title, height=420, margin=dict(l=5, r=5, t=40 if title else 5, b=5))
    return fig


def parallel_figure(rows: Sequence[dict], dimensions: Sequence[str] = ("size", "params", "speedup", "sts_retained", "fidelity"),
                    names: Sequence[str] | None = None) -> go.Figure:
    """Configs side by side as lines across the metrics (parallel coordinates)."""
    rows = list(rows)
    dims = []
    for key in dimensions:
        values = [r.get(key) for r in rows]
        if all(v is None for v in values):
            continue
        filled = [float("nan") if v is None else float(v) for v in values]
        dims.append(dict(label=key, values=filled))
    fig = go.Figure(go.Parcoords(
        line=dict(color=list(range(len(rows))), colorscale="Turbo", showscale=False),
        dimensions=dims,
    ))
    fig.update_layout(height=380, margin=dict(l=60, r=60, t=50, b=20),
                      title="; ".join(f"{i}: {n}" for i, n in enumerate(names)) if names else None)
    return fig
