"""Interaction grids: cells, single-knob baselines, the independence product and the difference."""
from __future__ import annotations

import pytest

from slimlib.errors import SlimlibError
from slimlib.model.shape import REFERENCE_SHAPE
from slimlib.report.interactions import cell_recipe, grid, interaction_table, knob_label, knobs

HEADS, BITS = "prune_heads.per_layer", "quantize.bits"


def test_knobs_are_the_ops_search_axes_with_off_first():
    axes = knobs(REFERENCE_SHAPE)
    assert axes[BITS][0] == 32 and axes[HEADS][0] == 0
    assert not any(key.startswith("distill.") for key in axes)  # training ops are left out
    assert knob_label(BITS, 32, off=32) == "off" and knob_label(BITS, 8, off=32) == "8-bit"


def test_grid_cells_and_recipes():
    cells = grid(HEADS, [0, 3, 6], BITS, [32, 8])
    assert [(c.row, c.col, c.a, c.b) for c in cells] == [(0, 0, 0, 32), (0, 1, 0, 8), (1, 0, 3, 32), (1, 1, 3, 8),
                                                          (2, 0, 6, 32), (2, 1, 6, 8)]
    recipes = [cell_recipe("all-MiniLM-L6-v2", c, HEADS, [0, 3, 6], BITS, [32, 8]) for c in cells]
    assert recipes[0].steps == []  # off x off: the baseline
    assert [s.op for s in recipes[1].steps] == ["quantize"]  # knob B alone
    assert [s.op for s in recipes[2].steps] == ["prune_heads"]  # knob A alone
    assert [s.op for s in recipes[3].steps] == ["prune_heads", "quantize"]  # canonical order
    assert recipes[3].steps[0].to_dict()["per_layer"] == 3 and recipes[3].steps[1].to_dict()["bits"] == 8
    assert len({r.key() for r in recipes}) == len(recipes)


def test_grid_refuses_one_op_twice_or_a_knob_without_settings():
    with pytest.raises(SlimlibError, match="same op"):
        grid(HEADS, [0, 3], "prune_heads.fraction", [0, 0.5])
    with pytest.raises(SlimlibError, match="at least one setting"):
        grid(HEADS, [0], BITS, [32, 8])


def test_independence_prediction_is_the_product_of_single_knob_ratios():
    # rows: heads off, 3, 6; cols: 32-bit (off), 8-bit, 4-bit
    measured = {(0, 0): 1.0, (0, 1): 0.99, (0, 2): 0.90,
                (1, 0): 0.95, (1, 1): 0.94, (1, 2): 0.80,
                (2, 0): 0.85, (2, 1): None, (2, 2): 0.70}
    t = interaction_table(measured, [0, 3, 6], [32, 8, 4])
    assert t.single_a == [1.0, 0.95, 0.85] and t.single_b == [1.0, 0.99, 0.90]
    assert t.predicted[1][1] == pytest.approx(0.95 * 0.99)
    assert t.predicted[1][2] == pytest.approx(0.95 * 0.90)
    assert t.predicted[2][2] == pytest.approx(0.85 * 0.90)
    assert t.difference[1][1] == pytest.approx(0.94 - 0.95 * 0.99)
    assert t.difference[1][2] == pytest.approx(0.80 - 0.855)  # they interact: worse than the product
    # Single knobs are their own prediction (difference 0); a missing cell has a prediction but no difference.
    assert t.predicted[0][2] == 0.90 and t.difference[0][2] == 0.0 and t.difference[2][0] == 0.0
    assert t.predicted[2][1] == pytest.approx(0.85 * 0.99) and t.difference[2][1] is None
    assert t.missing() == 1


def test_the_baseline_corner_normalises_the_product():
    # A quick evaluation's speedup of the empty recipe is about 1, not exactly 1.
    measured = {(0, 0): 1.1, (0, 1): 2.2, (1, 0): 1.65, (1, 1): 3.3}
    t = interaction_table(measured, [0, 3], [32, 8])
    assert t.predicted[1][1] == pytest.approx(2.2 * 1.65 / 1.1)
    assert t.difference[1][1] == pytest.approx(0.0)


def test_missing_single_knob_or_corner():
    t = interaction_table({(1, 1): 0.5}, [0, 3], [32, 8])
    assert t.predicted[1][1] is None and t.difference[1][1] is None and t.measured[1][1] == 0.5
    t = interaction_table({(0, 1): 0.9, (1, 0): 0.8, (1, 1): 0.7}, [0, 3], [32, 8])
    assert t.predicted[1][1] == pytest.approx(0.72)  # no corner measured: taken as 1
