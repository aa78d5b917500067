"""A self-contained HTML page of evaluations (charts + table) for people who won't run anything."""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from ..optional import require


def _label(result: dict) -> str:
    recipe = result["recipe"]
    if recipe.get("name"):
        return recipe["name"]
    steps = recipe.get("steps", [])
    if not steps:
        return "baseline (no steps)"
    return " + ".join(_step_text(s) for s in steps)


def _step_text(step: dict) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in step.items() if k not in ("op", "corpus_sha256"))
    return f"{step['op']}({fields})"


def report_points(results: list[dict]) -> list[dict]:
    """Plain rows for the charts and the table: one per evaluated recipe, plus the baseline."""
    points = []
    if results:
        b = results[0]["baseline"]
        points.append({"label": "baseline", "size_mb": b["size_bytes"] / 1e6, "speedup": 1.0,
                       "sts": b["sts_spearman"], "fidelity": 1.0, "params": b["params"], "baseline": True})
    for result in results:
        c, r = result["compressed"], result["ratios"]
        points.append({"label": _label(result), "size_mb": c["size_bytes"] / 1e6, "speedup": r["speedup"],
                       "sts": c["sts_spearman"], "fidelity": c["fidelity_cosine"], "params": c["params"],
                       "speed_label": result["labels"].get("sentences_per_s"), "baseline": False,
                       "recipe": result["recipe"]})
    return points


def _figure(points: list[dict], x: str, y: str, x_title: str, y_title: str):
    go = require("plotly.graph_objects")

    usable = [p for p in points if p.get(x) is not None and p.get(y) is not None]
    fig = go.Figure()
    for is_base, name, symbol in ((True, "baseline", "star"), (False, "compressed", "circle")):
        group = [p for p in usable if p["baseline"] == is_base]
        fig.add_trace(go.Scatter(
            x=[p[x] for p in group], y=[p[y] for p in group], mode="markers", name=name,
            marker={"size": 13 if is_base else 10, "symbol": symbol},
            text=[p["label"] for p in group], hovertemplate="%{text}<br>%{x:.3g}, %{y:.4g}<extra></extra>"))
    fig.update_layout(xaxis_title=x_title, yaxis_title=y_title, height=420, margin={"t": 30})
    return fig


def render_report(results: list[dict]) -> str:
    points = report_points(results)
    have_sts = any(p["sts"] is not None for p in points)
    accuracy, accuracy_title = ("sts", "STS Spearman x100") if have_sts else ("fidelity", "fidelity (mean cosine)")
    figures = [
        _figure(points, "size_mb", accuracy, "size (MB, exported folder)", accuracy_title),
        _figure(points, "speedup", accuracy, "speedup vs baseline (measured, same process)", accuracy_title),
    ]
    charts = []
    for i, fig in enumerate(figures):
        charts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))  # plotly.js once, inline
    rows = []
    for result in results:
        b, c, r, labels = result["baseline"], result["compressed"], result["ratios"], result["labels"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            _label(result), f"{c['params']:,}", f"{c['size_bytes'] / 1e6:.1f} MB", _r(r["size"], "{:.3f}"),
            _r(r["speedup"], "{:.2f}x"), _r(c["sts_spearman"], "{:.2f}"), _r(r["sts_retained"], "{:.1%}"),
            _r(c["fidelity_cosine"], "{:.4f}"), labels.get("sentences_per_s", ""))) + "</tr>")
    first = results[0] if results else None
    machine = ""
    if first:
        m = first["measurement"]
        machine = (f"{html.escape(m['hardware']['cpu'])}, {m['hardware']['cores']} cores "
                   f"({html.escape(', '.join(m['hardware']['features']))}); {m['threads']} torch threads; "
                   f"speed on {m['speed_sentences']} sentences, median of {m['speed_runs']} runs, interleaved with the baseline.")
    recipes = "".join(f"<details><summary>{html.escape(_label(r))}</summary><pre>"
                      f"{html.escape(json.dumps(r['recipe'], indent=2, sort_keys=True))}</pre></details>" for r in results)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slimlib report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Compression trade-offs: {html.escape(first['base_model']) if first else ''}</h1>
<p>Generated {stamp} by slimlib. Every number is measured on the machine below unless its "how" column says otherwise. {machine}</p>
{''.join(charts)}
<h2>Table</h2>
<table><tr><th>recipe</th><th>params</th><th>size</th><th>size ratio</th><th>speedup</th><th>STS</th><th>STS retained</th><th>fidelity</th><th>speed: how</th></tr>
{''.join(rows)}</table>
<h2>Recipes</h2>{recipes}
</body></html>
"""


def _r(value, pattern):
    return "-" if value is None else pattern.format(value)
