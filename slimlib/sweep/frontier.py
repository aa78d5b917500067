"""The frontier as data (pure, tested) and as a Plotly figure (drawn from that data).

Rows come from `store.study_rows`; a point is one measured trial with the numbers people read
(size in MB, speedup, fidelity, STS or nDCG@10) and whether it is on the study's Pareto front.
"""
from __future__ import annotations
from ..optional import require

AXES = {
    "size_mb": "size (MB)",
    "size_ratio": "size vs base",
    "speedup": "speed vs base (x)",
    "fidelity": "fidelity (mean cosine)",
    "sts": "STS Spearman x100",
    "ndcg": "retrieval nDCG@10",
    "params_m": "parameters (M)",
}


def points(rows: list[dict], front: set[int]) -> list[dict]:
    """One flat dict per measured trial, sorted by trial number."""
    out = []
    for row in rows:
        compressed, ratios = row.get("compressed") or {}, row.get("ratios") or {}
        if row.get("state") != "COMPLETE" or not compressed:
            continue
        size = compressed.get("size_bytes")
        params = compressed.get("params")
        out.append({
            "trial": row["trial"],
            "on_front": row["trial"] in front,
            "size_mb": None if size is None else round(size / 1e6, 3),
            "size_ratio": ratios.get("size"),
            "speedup": ratios.get("speedup"),
            "fidelity": compressed.get("fidelity_cosine"),
            "sts": compressed.get("sts_spearman"),
            "ndcg": compressed.get("ndcg_at_10"),
            "params_m": None if params is None else round(params / 1e6, 3),
            "settings": ", ".join(f"{k}={v}" for k, v in (row.get("settings") or {}).items()) or "(recipe)",
            "worker_pid": row.get("worker_pid"),
            "threads": row.get("threads"),
        })
    return sorted(out, key=lambda p: p["trial"])


def accuracy_axis(pts: list[dict]) -> str:
    """The accuracy axis these points have: "ndcg" when any trial scored retrieval, else "sts"."""
    return "ndcg" if any(p.get("ndcg") is not None for p in pts) else "sts"


def figure(pts: list[dict], x: str = "size_mb", y: str = "fidelity", title: str | None = None):
    """All trials as grey dots, the Pareto front in colour; hover shows the recipe settings.

    No line joins the front: with three objectives, a 2-D view of the front is not a staircase."""
    go = require("plotly.graph_objects")

    usable = [p for p in pts if p[x] is not None and p[y] is not None]
    fig = go.Figure()
    for on_front, name, color in ((False, "trial", "#b0b0b0"), (True, "Pareto front", "#d62728")):
        subset = [p for p in usable if p["on_front"] == on_front]
        fig.add_trace(go.Scatter(
            x=[p[x] for p in subset], y=[p[y] for p in subset], mode="markers", name=name,
            marker={"color": color, "size": 9 if on_front else 7},
            customdata=[[p["trial"], p["settings"], p["speedup"]] for p in subset],
            hovertemplate="trial %{customdata[0]}<br>%{customdata[1]}<br>speed %{customdata[2]}x<extra></extra>",
        ))
    fig.update_layout(title=title, xaxis_title=AXES.get(x, x), yaxis_title=AXES.get(y, y),
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}, legend={"orientation": "h"})
    return fig
