"""A self-contained HTML page of evaluations (charts + table) for people who won't run anything.

The charts are the app's trade-off chart (slimlib.report.charts.tradeoff_figure), the table's
columns come from slimlib.report.result.METRICS, and a goal (slimlib.report.goal), when given, is
stated, its best config marked on the charts and every row says how it fares against it.
"""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone

from ..ops.registry import recipe_label
from ..optional import require
from .goal import Goal, rank
from .result import METRICS, TABLE_ROWS, as_result, measurement_text
from .tradeoff import baseline_metrics, choose_y, metrics_of


def _label(result: dict) -> str:
    recipe = result["recipe"]
    return recipe.get("name") or recipe_label(recipe)


def report_points(results: list[dict]) -> list[dict]:
    """Chart points: the baseline (from the first result), then one per evaluated recipe (id = its index)."""
    points = []
    if results:
        first = as_result(results[0])
        points.append({**baseline_metrics(first), "id": None, "kind": "baseline", "label": "baseline",
                       "evaluation": "quick" if first.quick else "full"})
    for i, result in enumerate(results):
        r = as_result(result)
        points.append({**metrics_of(r), "id": i, "kind": "config", "label": _label(result),
                       "evaluation": "quick" if r.quick else "full",
                       "how": {key: METRICS[key].how(r) for key in ("speedup", "sts_retained")}})
    return points


def _cell(value: str) -> str:
    return f"<td>{html.escape(value)}</td>"


def render_report(results: list[dict], goal: Goal | None = None) -> str:
    require("plotly.graph_objects")  # the report extra: a one-line install hint if it is missing
    from .charts import tradeoff_figure

    points = report_points(results)
    configs = [p for p in points if p["kind"] == "config"]
    outcome = rank(configs, goal) if goal is not None else None
    best_id = configs[outcome.best]["id"] if outcome and outcome.best is not None else None
    y, fallback = choose_y(points, "sts_retained")
    charts = []
    for i, x in enumerate(("size", "speedup")):
        fig = tradeoff_figure(points, x=x, y=y, best_id=best_id, title=f"{METRICS[x].name} vs {METRICS[y].name}")
        charts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))  # plotly.js once, inline

    headers = ["recipe"]
    for key in TABLE_ROWS:
        m = METRICS[key]
        headers.append(f"{m.name}")
        if m.ratio:
            headers.append(f"{METRICS[m.ratio].name} ({METRICS[m.ratio].unit})")
    headers.append("speed: how")
    if outcome:
        headers.append("goal")
    rows = []
    for index, result in enumerate(results):
        r = as_result(result)
        cells = [_label(result)]
        for key in TABLE_ROWS:
            m = METRICS[key]
            cells.append(m.format(m.value(r), missing="-"))
            if m.ratio:
                cells.append(METRICS[m.ratio].format(METRICS[m.ratio].value(r), missing="-"))
        cells.append(METRICS["sentences_per_s"].how(r))
        if outcome:
            score = outcome.scores[index]
            cells.append(("best: " if index == outcome.best else "") + score.status())
        rows.append("<tr>" + "".join(_cell(c) for c in cells) + "</tr>")

    first = as_result(results[0]) if results else None
    machine = ""
    if first:
        hw = first.measurement.get("hardware") or {}
        machine = html.escape(f"{hw.get('cpu', 'unknown CPU')}, {hw.get('cores', '?')} cores "
                              f"({', '.join(hw.get('features', []))}). " + measurement_text(first))
    goal_html = ""
    if goal is not None:
        if outcome.best is not None:
            verdict = f"Best for this goal: <b>{html.escape(_label(results[outcome.best]))}</b>"
            if len(outcome.ties) > 1:
                verdict += f" (tied with {len(outcome.ties) - 1} other{'s' if len(outcome.ties) > 2 else ''})"
        elif outcome.closest is not None:
            verdict = (f"No config meets the goal; closest: <b>{html.escape(_label(results[outcome.closest]))}</b> "
                       f"({html.escape(outcome.scores[outcome.closest].status())})")
        else:
            verdict = "No config could be judged against this goal (its metrics were not measured)."
        goal_html = (f"<h2>Goal</h2><p>{html.escape(goal.describe())} "
                     f"<code>{html.escape(goal.to_text())}</code></p><p>{verdict}</p>")
    recipes = "".join(f"<details><summary>{html.escape(_label(r))}</summary><pre>"
                      f"{html.escape(json.dumps(r['recipe'], indent=2, sort_keys=True))}</pre></details>" for r in results)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = f"<p><i>{html.escape(fallback)}</i></p>" if fallback else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slimlib report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Compression trade-offs: {html.escape(first.base_model) if first else ''}</h1>
<p>Generated {stamp} by slimlib. Every number is measured on the machine below unless its "how" column says otherwise. {machine}</p>
{goal_html}{note}
{''.join(charts)}
<h2>Table</h2>
<table><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in headers)}</tr>
{''.join(rows)}</table>
<h2>Recipes</h2>{recipes}
</body></html>
"""
