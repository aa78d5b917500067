"""A goal: one number for what you care about, computed over evaluated configs.

A goal is a few constraints ("STS retained >= 0.97", "size <= 25 MB") and an objective: either one
metric, made as good as possible in its own direction (maximise speedup, minimise size), or a
weighted score the user defines. `rank` is a pure function over chart points (dicts of metric key
-> value, as `slimlib.report.tradeoff.metrics_of` makes them): it returns the best point and, for
every point, whether it meets the constraints, its score and how far it is from meeting them.

The weighted score is sum(weight * log(value)) with minimised metrics counted negatively, i.e. the
log of a weighted geometric mean: a 1% improvement of any metric adds about weight/100, whatever
its unit, so "speedup 1, STS retained 3" means "1% of STS is worth 3% of speed". Values must be
positive (all ratio metrics are).

Goals travel as short text (the app's `goal` link parameter, the HTML report):
``sts_retained>=0.97;size_mb<=25;max:speedup`` or ``...;score:speedup*1,sts_retained*3``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import SlimlibError
from .result import METRICS, number

OPS = ("<=", ">=")


class GoalError(SlimlibError):
    """A goal's text or settings cannot be used (one line, naming the part)."""


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str  # "<=" or ">="
    bound: float

    def __post_init__(self):
        if self.metric not in METRICS:
            raise GoalError(f"goal: {self.metric!r} is not a metric; choose from {', '.join(METRICS)}")
        if self.op not in OPS:
            raise GoalError(f"goal: {self.metric}{self.op}: use <= or >=")
        if number(self.bound) is None:
            raise GoalError(f"goal: {self.metric}{self.op}{self.bound!r}: the bound must be a number")

    def holds(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound

    def shortfall(self, value: float) -> float:
        """How far the value misses the bound, relative to the bound (0 when it holds)."""
        if self.holds(value):
            return 0.0
        return abs(value - self.bound) / (abs(self.bound) or 1.0)

    def text(self) -> str:
        return f"{self.metric}{self.op}{self.bound:g}"

    def describe(self) -> str:
        m = METRICS[self.metric]
        return f"{m.name} {'at most' if self.op == '<=' else 'at least'} {m.format(self.bound)}"


@dataclass(frozen=True)
class Goal:
    constraints: tuple[Constraint, ...] = ()
    objective: str | None = "speedup"  # one metric, optimised in its own direction (None with weights)
    weights: tuple[tuple[str, float], ...] = ()  # a weighted score instead of one metric

    def __post_init__(self):
        if self.weights:
            for key, weight in self.weights:
                if key not in METRICS:
                    raise GoalError(f"goal: score weight for {key!r}: not a metric; choose from {', '.join(METRICS)}")
                if number(weight) is None:
                    raise GoalError(f"goal: score weight for {key}: {weight!r} is not a number")
            if len({k for k, _ in self.weights}) != len(self.weights):
                raise GoalError("goal: a score names the same metric twice")
        elif self.objective is not None and self.objective not in METRICS:
            raise GoalError(f"goal: {self.objective!r} is not a metric; choose from {', '.join(METRICS)}")

    @property
    def empty(self) -> bool:
        return not self.constraints and not self.weights and self.objective is None

    # Text form (links, reports) ---------------------------------------------------------------
    def to_text(self) -> str:
        parts = [c.text() for c in self.constraints]
        if self.weights:
            parts.append("score:" + ",".join(f"{k}*{w:g}" for k, w in self.weights))
        elif self.objective:
            parts.append(f"{METRICS[self.objective].direction}:{self.objective}")
        return ";".join(parts)

    @classmethod
    def parse(cls, text: str) -> "Goal":
        constraints, objective, weights = [], None, []
        for raw in (text or "").split(";"):
            part = raw.strip().replace(" ", "")
            if not part:
                continue
            head, colon, rest = part.partition(":")
            if colon and head in ("max", "min"):
                if rest not in METRICS:
                    raise GoalError(f"goal: {part!r}: {rest!r} is not a metric")
                if METRICS[rest].direction != head:
                    raise GoalError(f"goal: {part!r}: {METRICS[rest].name} is better when "
                                    f"{'smaller' if METRICS[rest].direction == 'min' else 'larger'}; "
                                    f"write {METRICS[rest].direction}:{rest}")
                objective = rest
            elif colon and head == "score":
                for item in rest.split(","):
                    key, star, weight = item.partition("*")
                    value = number(weight) if star else 1.0
                    if value is None:
                        raise GoalError(f"goal: {item!r}: write metric*weight, e.g. speedup*2")
                    weights.append((key, value))
            else:
                op = next((o for o in OPS if o in part), None)
                if op is None:
                    raise GoalError(f"goal: {part!r}: write metric<=number, metric>=number, max:metric, "
                                    "min:metric or score:metric*weight,...")
                key, _, bound = part.partition(op)
                value = number(bound)
                if value is None:
                    raise GoalError(f"goal: {part!r}: {bound!r} is not a number")
                constraints.append(Constraint(key, op, value))
        return cls(tuple(constraints), None if weights else objective, tuple(weights))

    def describe(self) -> str:
        """For people: "STS retained at least 97.0%, Size at most 25.00 MB; maximise Speedup"."""
        parts = [c.describe() for c in self.constraints]
        if self.weights:
            aim = "maximise the score " + " + ".join(
                f"{w:g} x {'-' if METRICS[k].direction == 'min' else ''}log {METRICS[k].name}" for k, w in self.weights)
        elif self.objective:
            m = METRICS[self.objective]
            aim = f"{'maximise' if m.direction == 'max' else 'minimise'} {m.name}"
        else:
            aim = "any config that meets the constraints"
        return (", ".join(parts) + "; " if parts else "") + aim

    def metrics(self) -> list[str]:
        keys = [c.metric for c in self.constraints] + [k for k, _ in self.weights]
        if self.objective and not self.weights:
            keys.append(self.objective)
        return list(dict.fromkeys(keys))


@dataclass
class PointScore:
    """One point judged against a goal."""

    index: int
    feasible: bool | None  # None: a constraint's metric was not measured
    score: float | None  # higher is better; None when infeasible or the objective is missing
    distance: float | None  # 0 when every constraint holds; the summed relative shortfall otherwise
    misses: list[str] = field(default_factory=list)  # the constraints that fail, in words
    missing: list[str] = field(default_factory=list)  # metrics the goal needs that were not measured

    def status(self) -> str:
        if self.missing:
            return "not measured: " + ", ".join(METRICS[k].name for k in self.missing)
        if self.feasible:
            return "meets the goal"
        return "misses: " + "; ".join(self.misses)


@dataclass
class GoalOutcome:
    best: int | None  # index of the best feasible point (first in input order among ties)
    ties: list[int]  # every index sharing the best score
    closest: int | None  # when nothing is feasible: the point with the smallest shortfall
    scores: list[PointScore]


def objective_score(goal: Goal, point: dict) -> tuple[float | None, list[str]]:
    """The point's score (higher is better) and the objective metrics it lacks."""
    if goal.weights:
        total, missing = 0.0, []
        for key, weight in goal.weights:
            value = number(point.get(key))
            if value is None or value <= 0:
                missing.append(key)
                continue
            sign = 1.0 if METRICS[key].direction == "max" else -1.0
            total += weight * sign * math.log(value)
        return (None, missing) if missing else (total, [])
    if goal.objective is None:
        return 0.0, []
    value = number(point.get(goal.objective))
    if value is None:
        return None, [goal.objective]
    return (value if METRICS[goal.objective].direction == "max" else -value), []


def rank(points: Sequence[dict], goal: Goal, tolerance: float = 1e-12) -> GoalOutcome:
    """Judge every point against the goal; the best is the feasible point with the highest score.

    A point whose constraint metric was not measured is neither feasible nor infeasible (it cannot
    win and is not "closest"). Points with equal best scores (within `tolerance`) are ties: the
    first in input order is `best`, all are listed in `ties`.
    """
    scores: list[PointScore] = []
    for i, point in enumerate(points):
        misses, missing, distance = [], [], 0.0
        for c in goal.constraints:
            value = number(point.get(c.metric))
            if value is None:
                missing.append(c.metric)
                continue
            if not c.holds(value):
                m = METRICS[c.metric]
                misses.append(f"{m.name} {m.format(value)} {'>' if c.op == '<=' else '<'} {m.format(c.bound)}")
                distance += c.shortfall(value)
        score, objective_missing = objective_score(goal, point)
        feasible = None if missing else not misses
        scores.append(PointScore(i, feasible, score if feasible else None,
                                 None if missing else distance, misses, list(dict.fromkeys(missing + objective_missing))))
    ranked = [s for s in scores if s.feasible and s.score is not None]
    best, ties, closest = None, [], None
    if ranked:
        top = max(s.score for s in ranked)
        ties = [s.index for s in ranked if s.score >= top - tolerance]
        best = ties[0]
    else:
        judged = [s for s in scores if s.distance is not None and s.feasible is False]
        if judged:
            closest = min(judged, key=lambda s: (s.distance, s.index)).index
    return GoalOutcome(best, ties, closest, scores)


DEFAULT_GOAL = Goal((Constraint("sts_retained", ">=", 0.97),), "speedup")
