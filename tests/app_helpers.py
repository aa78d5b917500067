"""Helpers for reading AppTest output: metric values and the Plotly figure JSON."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
PAGES = ROOT / "pages"


def chart_spec(at, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def config_points(spec: dict) -> list:
    """(x, y) of every evaluated config and the baseline drawn on a trade-off chart."""
    points = []
    for trace in spec["data"]:
        if trace.get("name") in ("frontier configs", "dominated configs", "baseline (measured here)"):
            points += list(zip(trace["x"], trace["y"]))
    return points


def metric_values(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}
