"""Do two compressions add up? A knob-by-knob grid, measured, beside what independence predicts.

Pick two knobs (an op's setting, e.g. heads pruned per layer and bits): every pair of their values
is one recipe. If the two effects were independent, the retained quality of the pair would be the
product of what each knob alone retains: predicted(a, b) = m(a, off) * m(off, b) / m(off, off).
The difference measured - predicted says whether they interact: below 0, the pair costs more than
the two costs multiplied (they hurt the same thing); above 0, less.

The knobs are the ops' own search axes (OpSpec.search_axes), whose first value leaves the op out,
so the grid's first row and column are the single-knob effects and its corner is the baseline.
Everything here is pure: cells and recipes to evaluate, and the three matrices from the measured
values; the page evaluates and draws.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import SlimlibError
from ..model.shape import ModelShape
from ..ops.recipe import Recipe, make_step
from ..ops.registry import op_spec, op_specs
from .result import number

# The metrics an interaction grid can show: ratios to the baseline (1.0 at the "off" corner).
GRID_METRICS = ("sts_retained", "fidelity", "speedup", "size")


def knobs(shape: ModelShape) -> dict[str, list[Any]]:
    """Every training-free op's search axes for this shape: {"op.field": [off, v1, v2, ...]}."""
    out: dict[str, list[Any]] = {}
    for spec in op_specs():
        if spec.trains:
            continue
        out.update({k: list(v) for k, v in spec.search_axes(shape).items() if len(v) > 1})
    return out


def knob_label(key: str, value: Any, off: Any = None) -> str:
    """ "off" for the knob's off value (its first), the op's own chart label otherwise."""
    if value == off:
        return "off"
    op, name = key.split(".", 1)
    spec = op_spec(op)
    try:
        return spec.label({"op": op, name: value}) if spec else f"{key}={value}"
    except (KeyError, TypeError, ValueError):
        return f"{key}={value}"


@dataclass(frozen=True)
class Cell:
    row: int  # index into the a values
    col: int  # index into the b values
    a: Any
    b: Any

    def steps(self, a_key: str, b_key: str, a_off: Any, b_off: Any) -> list[dict]:
        out = []
        for key, value, off in ((a_key, self.a, a_off), (b_key, self.b, b_off)):
            if value != off:
                op, name = key.split(".", 1)
                out.append({"op": op, name: value})
        return out


def check_knobs(a_key: str, b_key: str) -> None:
    if a_key.split(".", 1)[0] == b_key.split(".", 1)[0]:
        raise SlimlibError(f"interactions: {a_key} and {b_key} set the same op; pick knobs of two different ops")


def grid(a_key: str, a_values: Sequence[Any], b_key: str, b_values: Sequence[Any]) -> list[Cell]:
    """Every (a, b) pair, row by row. The first value of each list is that knob's "off" value, so
    row 0 and column 0 hold the single-knob effects and cell (0, 0) the baseline."""
    check_knobs(a_key, b_key)
    if len(a_values) < 2 or len(b_values) < 2:
        raise SlimlibError("interactions: each knob needs its off value and at least one setting")
    return [Cell(i, j, a, b) for i, a in enumerate(a_values) for j, b in enumerate(b_values)]


def cell_recipe(base_model: str, cell: Cell, a_key: str, a_values: Sequence[Any], b_key: str,
                b_values: Sequence[Any]) -> Recipe:
    """The recipe one cell stands for (the off value of a knob leaves its op out)."""
    steps = [make_step(**step) for step in cell.steps(a_key, b_key, a_values[0], b_values[0])]
    return Recipe(base_model, steps).canonical()


@dataclass
class InteractionTable:
    a_values: list[Any]
    b_values: list[Any]
    measured: list[list[float | None]]  # [row a][col b]
    predicted: list[list[float | None]]  # independence: m(a, off) * m(off, b) / m(off, off)
    difference: list[list[float | None]]  # measured - predicted
    single_a: list[float | None]  # m(a, off): knob a alone
    single_b: list[float | None]  # m(off, b): knob b alone

    def missing(self) -> int:
        return sum(v is None for row in self.measured for v in row)


def interaction_table(measured: Mapping[tuple[int, int], float | None], a_values: Sequence[Any],
                      b_values: Sequence[Any]) -> InteractionTable:
    """The three matrices from measured values keyed by (row, col).

    The baseline corner m(off, off) divides the product so the prediction is right for metrics
    whose baseline is not exactly 1 (a quick evaluation's speedup of the empty recipe is ~1, not 1);
    a missing corner counts as 1. Cells whose single-knob values are missing have no prediction.
    """
    rows, cols = len(a_values), len(b_values)
    m = [[number(measured.get((i, j))) for j in range(cols)] for i in range(rows)]
    corner = m[0][0] if m[0][0] not in (None, 0.0) else 1.0
    single_a = [m[i][0] for i in range(rows)]
    single_b = [m[0][j] for j in range(cols)]
    predicted: list[list[float | None]] = []
    difference: list[list[float | None]] = []
    for i in range(rows):
        prow, drow = [], []
        for j in range(cols):
            if i == 0 or j == 0:
                p = m[i][j]  # a single knob (or the baseline) is its own prediction
            elif single_a[i] is None or single_b[j] is None:
                p = None
            else:
                p = single_a[i] * single_b[j] / corner
            prow.append(p)
            drow.append(None if p is None or m[i][j] is None else m[i][j] - p)
        predicted.append(prow)
        difference.append(drow)
    return InteractionTable(list(a_values), list(b_values), m, predicted, difference, single_a, single_b)
