"""Plotly figures built from plain data (lists of dicts), shared by the app and the HTML report.

Nothing here knows about Streamlit or models: every builder takes the numbers (points from
`slimlib.report.tradeoff.metrics_of`, rows from `slimlib.measure.inspection.param_breakdown`, an importance
matrix) and returns a `plotly.graph_objects.Figure`. The data logic (the Pareto front) lives in
`slimlib.report.tradeoff`, where it is tested without drawing.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import plotly.graph_objects as go

from .result import METRICS
from .tradeoff import dominated_flags, error_bars, objectives_for, pareto_front, place_points

FRONT_COLOR = "#1f77b4"
FADED_OPACITY = 0.25
BASELINE_COLOR = "#2ca02c"
REFERENCE_COLOR = "#7f7f7f"
CURRENT_COLOR = "#d62728"
BEST_COLOR = "#ff7f0e"
MISSING_COLOR = "#8c564b"
MARKER = 12  # every config the same size: size on this chart already means "bytes" on one axis
# Quick evaluations (a subset of the data) and full ones are told apart by the marker's shape.
SYMBOLS = {("config", "quick"): "circle", ("config", "full"): "diamond",
           ("baseline", "quick"): "star", ("baseline", "full"): "star-diamond"}
HOVER_METRICS = ("size_mb", "latency_ms", "sts_spearman", "ndcg_at_10")


def _records(points) -> list[dict]:
    """Accept a list of dicts or a pandas DataFrame."""
    if hasattr(points, "to_dict"):
        return points.to_dict("records")
    return [dict(p) for p in points]


def _placeable(point: dict, *keys: str) -> bool:
    return all(point.get(k) is not None and point.get(k) == point.get(k) for k in keys)  # NaN != NaN


def symbol_of(point: dict) -> str:
    kind = "baseline" if point.get("kind") == "baseline" else "config"
    return SYMBOLS[(kind, "full" if point.get("evaluation") == "full" else "quick")]


def hover_text(point: dict, x: str, y: str) -> str:
    """The point's recipe label, then each shown metric by its name and unit (never raw keys)."""
    lines = [f"<b>{point.get('label') or 'config'}</b>"]
    for key in dict.fromkeys((x, y, *HOVER_METRICS)):
        metric = METRICS.get(key)
        if metric is None:
            continue
        if key == x and point.get("x_missing"):
            how = (point.get("how") or {}).get(x)
            lines.append(f"{metric.name}: not measured" + (f" ({how})" if how and how != "measured" else "")
                         + "; drawn at the axis edge")
            continue
        value = point.get(key)
        if value is not None:
            line = f"{metric.name}: {metric.format(value)} <i>({metric.unit})</i>"
            span = (point.get("intervals") or {}).get(key)
            if span:
                verdict = (point.get("verdicts") or {}).get(key)
                line += (f"<br>&nbsp;&nbsp;95% CI {metric.format(span[0])}-{metric.format(span[1])}"
                         + (f"; {verdict}" if verdict else ""))
            lines.append(line)
    if point.get("evaluation"):
        lines.append(f"{point['evaluation']} evaluation" + (f" on {point['data']}" if point.get("data") else ""))
    if point.get("goal_text"):
        lines.append(f"goal: {point['goal_text']}")
    return "<br>".join(lines)


def tradeoff_figure(points, x: str = "size", y: str = "sts_retained", references: Iterable[dict] = (),
                    current_id=None, title: str | None = None, log_x: bool = False, best_id=None) -> go.Figure:
    """Every evaluated config as a point, the Pareto frontier drawn, dominated points faded.

    `points` are dicts with the metric keys of `slimlib.report.result.METRICS` plus `id` (returned on
    selection as customdata), `label` (the recipe's label), `kind` ("config" or "baseline") and
    `evaluation` ("quick" or "full", drawn as circles and diamonds); points with `intervals`
    ({metric: [low, high]}, the 95% interval) get error bars on y. Points with a y value but no x
    value (speed not measured) are drawn at the axis edge, labelled, instead of vanishing.
    `references` are published anchors (`slimlib.report.references`), drawn apart and labelled
    "published, not measured here", with their source in the hover text. `best_id` marks the
    config a goal picked (slimlib.report.goal).
    """
    records, missing = place_points(_records(points), x, y, log_x=log_x)
    has_bars = error_bars(records + missing, y) is not None
    objectives = objectives_for(x, y)
    dominated = dominated_flags(records, objectives)
    fig = go.Figure()

    def scatter(name, rows, color, opacity, showlegend=True, **extra):
        if not rows:
            return
        bars = error_bars(rows, y)
        if bars is not None:  # the 95% interval of each point's y value (none: no bar)
            extra["error_y"] = dict(type="data", symmetric=False, array=bars[0], arrayminus=bars[1], visible=True,
                                    color=color, thickness=1.2, width=3)
        fig.add_trace(go.Scatter(
            name=name, mode="markers", showlegend=showlegend,
            x=[r[x] for r in rows], y=[r[y] for r in rows],
            customdata=[[r.get("id")] for r in rows],
            hovertext=[hover_text(r, x, y) for r in rows], hoverinfo="text",
            marker=dict(size=MARKER, symbol=[symbol_of(r) for r in rows], color=color, opacity=opacity,
                        line=dict(width=1, color="white")), **extra,
        ))

    configs = [i for i, p in enumerate(records) if p.get("kind", "config") == "config"]
    scatter("frontier configs", [records[i] for i in configs if not dominated[i]], FRONT_COLOR, 0.95)
    scatter("dominated configs", [records[i] for i in configs if dominated[i]], FRONT_COLOR, FADED_OPACITY)
    scatter("baseline (measured here)", [p for p in records if p.get("kind") == "baseline"], BASELINE_COLOR, 1.0)
    if missing:
        name = f"{METRICS[x].name.lower()} not measured (drawn at the axis edge)"
        scatter(name, missing, MISSING_COLOR, 0.9)
        fig.add_annotation(x=missing[0][x], y=1.0, yref="paper", text=f"{METRICS[x].name.lower()} not measured",
                           showarrow=False, textangle=-90, xanchor="right", font=dict(size=11, color=MISSING_COLOR))

    front = pareto_front(records, objectives)
    if len(front) > 1:
        fig.add_trace(go.Scatter(name="Pareto frontier", mode="lines", x=[p[x] for p in front], y=[p[y] for p in front],
                                 line=dict(color=FRONT_COLOR, width=1.5, dash="dot", shape="hv"), hoverinfo="skip"))

    everything = records + missing
    # Rings around the current config and the goal's best (open symbols draw in the marker colour).
    for ring_id, name, symbol, color, size in ((current_id, "current config", "circle-open", CURRENT_COLOR, MARKER + 10),
                                               (best_id, "best for your goal", "star-open", BEST_COLOR, MARKER + 20)):
        hit = [p for p in everything if ring_id is not None and p.get("id") == ring_id]
        if hit:
            p = hit[0]
            fig.add_trace(go.Scatter(name=name, mode="markers", x=[p[x]], y=[p[y]], customdata=[[p.get("id")]],
                                     hovertext=[hover_text(p, x, y)], hoverinfo="text",
                                     marker=dict(size=size, symbol=symbol, color=color, line=dict(width=3, color=color))))

    # Legend entries for the marker shapes (empty traces: they only explain quick vs full).
    shown = {p.get("evaluation", "quick") for p in everything}
    for evaluation, text in (("quick", "quick evaluation (subset of the data)"), ("full", "full evaluation (all data)")):
        if evaluation in shown:
            fig.add_trace(go.Scatter(name=text, mode="markers", x=[None], y=[None], hoverinfo="skip",
                                     marker=dict(size=MARKER, symbol=SYMBOLS[("config", evaluation)], color="#555")))

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
        title=title, template="plotly_white", height=480, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis_title=METRICS[x].label + (" — log scale" if log_x else ""),
        yaxis_title=METRICS[y].label + (" — bars: 95% interval" if has_bars else ""),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        clickmode="event+select", dragmode="pan",
    )
    if log_x:
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


PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
PARALLEL_METRICS = ("size", "params", "speedup", "sts_retained", "fidelity")
RETRIEVAL_PARALLEL_METRICS = ("size", "params", "speedup", "ndcg_retained", "fidelity")


def parallel_metrics(data_kinds: Iterable[str | None] = ()) -> tuple[str, ...]:
    """The parallel-coordinates axes for configs evaluated on data of these kinds: nDCG@10 retained for
    retrieval, STS retained for pairs (both when both kinds are chosen; a config lacking one leaves it out)."""
    kinds = set(data_kinds)
    if "retrieval" not in kinds:
        return PARALLEL_METRICS
    if kinds & {"pairs"}:
        return ("size", "params", "speedup", "sts_retained", "ndcg_retained", "fidelity")
    return RETRIEVAL_PARALLEL_METRICS


def parallel_dimensions(rows: Sequence[dict], dimensions: Sequence[str] = PARALLEL_METRICS) -> tuple[list[dict], list[str]]:
    """The axes to draw and the metrics left out. A metric is drawn only when every chosen config
    has it: parallel coordinates cannot draw a gap, and a missing value must not read as a number."""
    drawn, left_out = [], []
    for key in dimensions:
        values = [r.get(key) for r in rows]
        if any(v is None or v != v for v in values):
            left_out.append(key)
            continue
        drawn.append(dict(label=METRICS[key].name, values=[float(v) for v in values]))
    return drawn, left_out


def parallel_figure(rows: Sequence[dict], dimensions: Sequence[str] = PARALLEL_METRICS,
                    names: Sequence[str] | None = None) -> go.Figure:
    """Configs side by side as lines across the metrics (parallel coordinates), one colour per
    config with its name in the colour bar (parcoords has no legend of its own)."""
    rows = list(rows)
    names = list(names) if names else [f"config {i + 1}" for i in range(len(rows))]
    dims, left_out = parallel_dimensions(rows, dimensions)
    n = max(len(rows), 1)
    colors = [PALETTE[i % len(PALETTE)] for i in range(n)]
    scale = []
    for i, color in enumerate(colors):  # a stepped colour scale: config i gets exactly colour i
        scale += [[i / n, color], [(i + 1) / n, color]]
    fig = go.Figure(go.Parcoords(
        line=dict(color=list(range(len(rows))), colorscale=scale, cmin=-0.5, cmax=n - 0.5, showscale=True,
                  colorbar=dict(title=dict(text="config"), tickvals=list(range(n)), ticktext=names[:n], len=0.9)),
        dimensions=dims,
    ))
    note = ("not drawn (not measured for every config): " + ", ".join(METRICS[k].name for k in left_out)) if left_out else None
    fig.update_layout(height=380, margin=dict(l=60, r=140, t=40, b=40 if note else 20))
    if note:
        fig.add_annotation(text=note, x=0, y=-0.12, xref="paper", yref="paper", showarrow=False, xanchor="left",
                           font=dict(size=11, color="#666"))
    return fig


def interaction_figure(matrix: Sequence[Sequence[float | None]], x_values: Sequence, y_values: Sequence, title: str,
                       x_title: str, y_title: str, diverging: bool = False, fmt: str = "{:.3f}") -> go.Figure:
    """One knob-by-knob grid as a heatmap with the value printed in each cell ("-" not measured yet).
    `diverging` centres the colour scale on 0 (for measured minus predicted)."""
    z = [[None if v is None else float(v) for v in row] for row in matrix]
    text = [["-" if v is None else (("+" if diverging and v > 0 else "") + fmt.format(v)) for v in row] for row in z]
    known = [abs(v) for row in z for v in row if v is not None]
    extra = dict(colorscale="RdBu", zmid=0.0) if diverging else dict(colorscale="Viridis")
    if diverging and known:
        extra.update(zmin=-max(known), zmax=max(known))
    fig = go.Figure(go.Heatmap(z=z, x=[str(v) for v in x_values], y=[str(v) for v in y_values], text=text,
                               texttemplate="%{text}", hovertemplate=f"{x_title} %{{x}}<br>{y_title} %{{y}}<br>%{{text}}<extra></extra>",
                               textfont=dict(size=12), showscale=True, colorbar=dict(thickness=10), **extra))
    # The knob names stay in the hover text: tick labels ("8-bit", "heads -6/layer") already say them, and axis
    # titles would squeeze three heatmaps side by side.
    fig.update_layout(title=title, template="plotly_white", height=380, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(type="category", tickangle=0), yaxis=dict(type="category"))
    return fig
