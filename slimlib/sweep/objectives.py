"""Objectives: which numbers of an eval result a search optimizes, and in which direction."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SlimlibError
from ..report.result import SWEEP_METRICS

# name -> (path into the eval JSON, default direction, what it means); defined once with the other metrics
METRICS = SWEEP_METRICS
DIRECTIONS = {"min": "minimize", "max": "maximize"}
# The eval JSON's "labels" key that says how each metric was obtained (e.g. "not measured: no kernel").
LABEL_KEYS = {"size": "size_bytes", "params": "params", "speed": "sentences_per_s", "sts": "sts_spearman",
              "fidelity": "fidelity_cosine"}


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str  # "min" or "max"

    @property
    def label(self) -> str:
        return f"{self.metric}:{self.direction}"

    @property
    def optuna_direction(self) -> str:
        return DIRECTIONS[self.direction]

    def value(self, result: dict) -> float | None:
        section, key = METRICS[self.metric][0]
        value = (result.get(section) or {}).get(key)
        return None if value is None else float(value)


def default_objectives(has_data: bool) -> str:
    """STS needs labelled pairs; without them the label-free fidelity takes its place."""
    return "size:min,speed:max," + ("sts:max" if has_data else "fidelity:max")


def parse_objectives(text: str, has_data: bool) -> list[Objective]:
    """Parse "size:min,speed:max,sts:max"; a bare metric takes its usual direction."""
    if not isinstance(text, str) or not text.strip():
        raise SlimlibError("--objectives: give at least one metric, e.g. size:min,speed:max")
    out: list[Objective] = []
    for part in text.split(","):
        name, _, direction = part.strip().partition(":")
        name = name.strip().lower()
        if name not in METRICS:
            raise SlimlibError(f"--objectives: {name!r} is not a metric; choose from {', '.join(METRICS)}")
        direction = (direction.strip().lower() or METRICS[name][1])
        if direction not in DIRECTIONS:
            raise SlimlibError(f"--objectives: {part.strip()!r} has direction {direction!r}; use min or max")
        if name == "sts" and not has_data:
            raise SlimlibError("--objectives: sts needs labelled pairs (--data PAIRS); "
                               "without them use fidelity:max, the label-free agreement with the base model")
        if any(o.metric == name for o in out):
            raise SlimlibError(f"--objectives: {name} is given twice")
        out.append(Objective(name, direction))
    return out


def objective_values(objectives: list[Objective], result: dict) -> tuple[list[float] | None, str | None]:
    """The values to tell the study, or None and the reason a metric is missing."""
    values = []
    for objective in objectives:
        value = objective.value(result)
        if value is None:
            how = (result.get("labels") or {}).get(LABEL_KEYS[objective.metric], "not measured")
            return None, f"{objective.metric} has no value ({how})"
        values.append(value)
    return values, None
