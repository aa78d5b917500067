"""The size/speed/accuracy trade-off as data: flat points from eval results and the Pareto front.

Pure functions over plain dicts, so the app, the HTML report and sweeps share them and tests can
check the numbers without drawing anything. A point is a dict of metric key -> number (or None
when that metric was not measured); objectives say which metrics to minimise or maximise. The
metrics themselves (names, units, directions) are slimlib.report.result.METRICS.
"""
from __future__ import annotations

from .result import METRICS, X_CHOICES, Y_CHOICES, Metric, baseline_values_of, number as _number, values_of

__all__ = ["METRICS", "Metric", "X_CHOICES", "Y_CHOICES", "metrics_of", "baseline_metrics", "objectives_for",
           "dominates", "pareto_mask", "pareto_front", "dominated_flags", "default_y", "choose_y", "axis_edge",
           "place_points", "error_bars"]


def metrics_of(result: dict) -> dict:
    """The chartable numbers of one eval JSON (see slimlib.workflows.evaluate.evaluate): every
    metric of slimlib.report.result.METRICS, None where it was not measured."""
    return values_of(result)


def baseline_metrics(result: dict) -> dict:
    """The baseline as a point on the same scales (1.0 for every ratio it measured)."""
    return baseline_values_of(result)


def objectives_for(*keys: str) -> dict[str, str]:
    """{metric: "min"|"max"} for the given metric keys."""
    return {key: METRICS[key].direction for key in keys}


def _comparable(point: dict, objectives: dict[str, str]) -> bool:
    return all(_number(point.get(key)) is not None for key in objectives)


def dominates(a: dict, b: dict, objectives: dict[str, str]) -> bool:
    """a is at least as good as b on every objective and strictly better on one."""
    strictly = False
    for key, better in objectives.items():
        va, vb = float(a[key]), float(b[key])
        if better == "max":
            va, vb = -va, -vb
        if va > vb:
            return False
        if va < vb:
            strictly = True
    return strictly


def pareto_mask(points: list[dict], objectives: dict[str, str]) -> list[bool]:
    """True for points no other point dominates. Points missing an objective are never on the front
    and never dominate (they cannot be placed on the chart)."""
    usable = [i for i, p in enumerate(points) if _comparable(p, objectives)]
    mask = [False] * len(points)
    for i in usable:
        mask[i] = not any(dominates(points[j], points[i], objectives) for j in usable if j != i)
    return mask


def pareto_front(points: list[dict], objectives: dict[str, str]) -> list[dict]:
    """The non-dominated points, sorted along the first objective (ready to draw as a line)."""
    mask = pareto_mask(points, objectives)
    first = next(iter(objectives))
    return sorted((p for p, on in zip(points, mask) if on), key=lambda p: float(p[first]))


def dominated_flags(points: list[dict], objectives: dict[str, str]) -> list[bool]:
    """True for points that are placeable but dominated (drawn faded)."""
    mask = pareto_mask(points, objectives)
    return [(not on) and _comparable(p, objectives) for p, on in zip(points, mask)]


# What the chart does with points that lack a number ------------------------------------------------
ACCURACY_Y = ("sts_retained", "ndcg_retained")  # the y axes that need labelled data: a pair file or a BEIR folder
_NO_DATA = {"sts_retained": ("STS", "no pair file chosen"), "ndcg_retained": ("nDCG@10", "no retrieval folder chosen")}


def default_y(data_kind: str | None = None) -> str:
    """The y axis for data of this kind ("retrieval": nDCG@10 retained; pairs or none: STS retained)."""
    return "ndcg_retained" if data_kind == "retrieval" else "sts_retained"


def choose_y(points: list[dict], y: str | None = None, data_kind: str | None = None) -> tuple[str, str | None]:
    """The y metric to draw and, if it had to change, why. `y` None: the data kind's own (default_y).
    An accuracy ratio needs labelled data: when no evaluated point has the wanted one the chart shows the
    other accuracy ratio if the points have it (STS on pairs, nDCG@10 on a retrieval folder), else
    fidelity (always measured), instead of staying empty."""
    y = y or default_y(data_kind)

    def measured(key: str) -> bool:
        return any(_number(p.get(key)) is not None for p in points)

    if y in ACCURACY_Y and not measured(y):
        what, why = _NO_DATA[y]
        other = next(k for k in ACCURACY_Y if k != y)
        if measured(other):
            return other, (f"No {what} was measured for these configs ({why}): "
                           f"the y axis shows {METRICS[other].name} instead.")
        return "fidelity", (f"No {what} was measured for these configs ({why}): "
                            "the y axis shows fidelity to the original model instead.")
    return y, None


def axis_edge(values: list[float], log: bool = False, lower: bool = True) -> float | None:
    """A position just outside the known values, where unmeasured points are drawn."""
    known = [v for v in values if v is not None and (v > 0 or not log)]
    if not known:
        return None
    low, high = min(known), max(known)
    if log:
        return low / 1.25 if lower else high * 1.25
    span = (high - low) or abs(high) or 1.0
    return low - 0.08 * span if lower else high + 0.08 * span


def place_points(points: list[dict], x: str, y: str, log_x: bool = False) -> tuple[list[dict], list[dict]]:
    """Split points into (placed, unmeasured-x). Points with y but no x value (e.g. speed not
    measured: no kernel for that bit width) are not dropped: they come back with `x` set to the
    axis edge and `x_missing` True, so the chart can draw them apart with a label."""
    placed = [p for p in points if _number(p.get(x)) is not None and _number(p.get(y)) is not None]
    missing = [p for p in points if _number(p.get(x)) is None and _number(p.get(y)) is not None]
    edge = axis_edge([float(p[x]) for p in placed], log=log_x)
    if edge is None:
        edge = 1.0
    return placed, [{**p, x: edge, "x_missing": True} for p in missing]


def error_bars(rows: list[dict], y: str) -> tuple[list[float | None], list[float | None]] | None:
    """(above, below) distances from each point's y value to its 95% interval (`intervals[y]`, as the app's
    chart points carry them), None for a point without one; None when no point has one."""
    above, below = [], []
    for row in rows:
        span = (row.get("intervals") or {}).get(y)
        value = _number(row.get(y))
        if value is None or not span or len(span) != 2 or any(_number(v) is None for v in span):
            above.append(None)
            below.append(None)
            continue
        low, high = float(span[0]), float(span[1])
        above.append(max(high - value, 0.0))
        below.append(max(value - low, 0.0))
    return (above, below) if any(v is not None for v in above) else None
