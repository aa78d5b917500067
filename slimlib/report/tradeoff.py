"""The size/speed/accuracy trade-off as data: flat points from eval results and the Pareto front.

Pure functions over plain dicts, so the app, the HTML report and sweeps share them and tests can
check the numbers without drawing anything. A point is a dict of metric name -> number (or None
when that metric was not measured); objectives say which metrics to minimise or maximise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: str  # "min" or "max"


# The axes the trade-off chart offers. Ratios against the baseline measured in the same process,
# so points from different sessions (and the published anchors) share one scale.
METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("size", "Size (fraction of the baseline's bytes)", "min"),
        Metric("params", "Parameters (fraction of the baseline's)", "min"),
        Metric("speedup", "Speedup (x baseline sentences/s)", "max"),
        Metric("sts_retained", "STS Spearman retained (fraction of the baseline's)", "max"),
        Metric("fidelity", "Fidelity (mean cosine to the original embeddings)", "max"),
        Metric("latency_ms", "Latency per sentence (ms)", "min"),
    )
}
X_CHOICES = ("size", "speedup", "params")
Y_CHOICES = ("sts_retained", "fidelity")


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def metrics_of(result: dict) -> dict:
    """The chartable numbers of one eval JSON (see slimlib.workflows.evaluate.evaluate)."""
    ratios = result.get("ratios", {})
    compressed = result.get("compressed", {})
    per_s = _number(compressed.get("sentences_per_s"))
    return {
        "size": _number(ratios.get("size")),
        "params": _number(ratios.get("params")),
        "speedup": _number(ratios.get("speedup")),
        "sts_retained": _number(ratios.get("sts_retained")),
        "fidelity": _number(compressed.get("fidelity_cosine")),
        "latency_ms": round(1000.0 / per_s, 4) if per_s else None,
        "size_mb": round(compressed["size_bytes"] / 1e6, 3) if compressed.get("size_bytes") else None,
        "sts_spearman": _number(compressed.get("sts_spearman")),
    }


def baseline_metrics(result: dict) -> dict:
    """The baseline as a point on the same ratio scale (1.0 everywhere it was measured)."""
    baseline = result.get("baseline", {})
    per_s = _number(baseline.get("sentences_per_s"))
    return {
        "size": 1.0,
        "params": 1.0,
        "speedup": 1.0 if per_s else None,
        "sts_retained": 1.0 if _number(baseline.get("sts_spearman")) is not None else None,
        "fidelity": 1.0,
        "latency_ms": round(1000.0 / per_s, 4) if per_s else None,
        "size_mb": round(baseline["size_bytes"] / 1e6, 3) if baseline.get("size_bytes") else None,
        "sts_spearman": _number(baseline.get("sts_spearman")),
    }


def objectives_for(*keys: str) -> dict[str, str]:
    """{metric: "min"|"max"} for the given metric keys."""
    return {key: METRICS[key].better for key in keys}


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
