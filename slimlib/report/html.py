"""A self-contained HTML page of evaluations (charts + table) for people who won't run anything.

The charts are the app's trade-off chart (slimlib.report.charts.tradeoff_figure), the table's
columns come from slimlib.report.result.METRICS (the rows of the data's kind: STS on a pair file,
nDCG@10, Recall@10 and MRR@10 on a retrieval folder, each accuracy metric with its 95% interval), the
data set is named with its size, and a goal (slimlib.report.goal), when given, is
stated, its best config marked on the charts and every row says how it fares against it.
"""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone

from ..ops.registry import recipe_label
from ..optional import require
from .goal import Goal, rank
from .result import METRICS, TABLE_ROWS, as_result, measurement_text, table_keys
from .text import data_name, data_text
from .tradeoff import baseline_metrics, choose_y, metrics_of

# The metrics whose 95% intervals the chart points carry (error bars, hover text).
INTERVAL_KEYS = ("sts_retained", "ndcg_retained", "sts_spearman", "ndcg_at_10", "recall_at_10", "mrr_at_10")


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
        intervals = {key: list(span) for key in INTERVAL_KEYS if (span := METRICS[key].interval(r)) is not None}
        points.append({**metrics_of(r), "id": i, "kind": "config", "label": _label(result),
                       "evaluation": "quick" if r.quick else "full",
                       "how": {key: METRICS[key].how(r) for key in ("speedup", "sts_retained", "ndcg_retained")},
                       "intervals": intervals,
                       "verdicts": {key: r.verdict(key) for key in intervals if r.verdict(key)},
                       "data_kind": r.data_kind})
    return points


def report_y(results: list[dict]) -> str:
    """The accuracy the charts' y axis shows: nDCG@10 retained when the configs were scored on retrieval
    and none on pairs, STS retained otherwise (choose_y falls back when it was not measured)."""
    kinds = {as_result(r).data_kind for r in results}
    return "ndcg_retained" if "retrieval" in kinds and "pairs" not in kinds else "sts_retained"


def table_columns(results: list[dict]) -> tuple[str, ...]:
    """The table's metrics: TABLE_ROWS of every data kind among the results (no empty STS or nDCG columns)."""
    wanted = {key for r in results for key in table_keys(r)} if results else set(table_keys({}))
    return tuple(key for key in TABLE_ROWS if key in wanted)


def _interval_cell(key: str, r) -> str:
    """ "0.63-0.91; within noise" for a metric with a 95% interval, "-" without."""
    m = METRICS[key]
    span = m.interval(r)
    if span is None:
        return "-"
    verdict = r.verdict(key)
    return f"{m.format(span[0])}-{m.format(span[1])}" + (f"; {verdict}" if verdict and not r.is_baseline else "")


def data_summary(results: list[dict]) -> tuple[str, bool]:
    """The data the configs were scored on, in words, and whether the rows differ (then each row names its own)."""
    texts = list(dict.fromkeys(data_text(r) for r in results))
    if len(texts) == 1:
        return f"Accuracy data: {texts[0]}.", False
    return "Accuracy data differs between rows (the data column names each row's): " + "; ".join(texts) + ".", True


def _cell(value: str) -> str:
    return f"<td>{html.escape(value)}</td>"


def render_report(results: list[dict], goal: Goal | None = None) -> str:
    require("plotly.graph_objects")  # the report extra: a one-line install hint if it is missing
    from .charts import tradeoff_figure

    points = report_points(results)
    configs = [p for p in points if p["kind"] == "config"]
    outcome = rank(configs, goal) if goal is not None else None
    best_id = configs[outcome.best]["id"] if outcome and outcome.best is not None else None
    y, fallback = choose_y(points, report_y(results))
    charts = []
    for i, x in enumerate(("size", "speedup")):
        fig = tradeoff_figure(points, x=x, y=y, best_id=best_id, title=f"{METRICS[x].name} vs {METRICS[y].name}")
        charts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))  # plotly.js once, inline

    columns = table_columns(results)
    with_interval = {key for key in columns for r in results if METRICS[key].interval(as_result(r)) is not None}
    data_html, per_row_data = data_summary(results) if results else ("", False)
    headers = ["recipe"]
    for key in columns:
        m = METRICS[key]
        headers.append(f"{m.name}")
        if key in with_interval:
            headers.append(f"{m.name}: 95% interval")
        if m.ratio:
            headers.append(f"{METRICS[m.ratio].name} ({METRICS[m.ratio].unit})")
    headers.append("speed: how")
    if per_row_data:
        headers.append("data")
    if outcome:
        headers.append("goal")
    rows = []
    for index, result in enumerate(results):
        r = as_result(result)
        cells = [_label(result)]
        for key in columns:
            m = METRICS[key]
            cells.append(m.format(m.value(r), missing="-"))
            if key in with_interval:
                cells.append(_interval_cell(key, r))
            if m.ratio:
                cells.append(METRICS[m.ratio].format(METRICS[m.ratio].value(r), missing="-"))
        cells.append(METRICS["sentences_per_s"].how(r))
        if per_row_data:
            cells.append(data_name(r.measurement.get("data_file")) or "none")
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
<p>{html.escape(data_html)}</p>
<table><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in headers)}</tr>
{''.join(rows)}</table>
<h2>Recipes</h2>{recipes}
</body></html>
"""
