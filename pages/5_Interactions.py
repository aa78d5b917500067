"""Interactions: do two compressions add up? Pick two knobs, evaluate their grid in the background,
and compare what was measured with what independence predicts (the product of each knob alone).

The cells are quick evaluations stored in the history like any other, so a stopped or interrupted
grid resumes where it stopped and cells evaluated elsewhere (Explore, Presets) are not recomputed.
The numbers come from slimlib.report.interactions (pure, tested without drawing).
"""
from __future__ import annotations

import streamlit as st

from slimlib.errors import Cancelled, SlimlibError
from slimlib.ops.registry import op_spec
from slimlib.report.charts import interaction_figure
from slimlib.report.interactions import GRID_METRICS, cell_recipe, grid, interaction_table, knob_label, knobs
from slimlib.report.result import METRICS
from slimlib.report.tradeoff import metrics_of
from ui import page
from ui.controls import data_picker
from ui.evaluation import evaluate_and_store, lookup
from ui.views import job_panel, start_job

DEFAULT_KNOBS = ("prune_heads.per_layer", "quantize.bits")
MAX_CELLS = 36

page.setup("Interactions")
ctx = page.load()
with st.sidebar:
    data = data_picker()
st.title("Interactions: do two compressions add up?")
st.markdown(
    "Pick two knobs. Each pair of settings is one config; the grid is evaluated in the background (quick evaluations, "
    "kept in the history). **Measured** is what each pair retains; **if independent** is what it would retain if the "
    "two effects simply multiplied (what knob A alone keeps x what knob B alone keeps); **difference** is measured minus "
    "that. Red cells: the pair costs more than the two costs together (they hurt the same thing); blue: less."
)
axes = knobs(ctx.shape)
if len({key.split(".")[0] for key in axes}) < 2:
    st.info("This build has fewer than two training-free ops with settings to combine.")
    st.stop()


def knob_title(key: str) -> str:
    op, name = key.split(".", 1)
    spec = op_spec(op)
    return f"{spec.title if spec else op}: {name.replace('_', ' ')}"


keys = list(axes)
cols = st.columns(3)
a_key = cols[0].selectbox("Knob A (rows)", keys, index=keys.index(DEFAULT_KNOBS[0]) if DEFAULT_KNOBS[0] in keys else 0,
                          key="inter.a", format_func=knob_title)
b_keys = [k for k in keys if k.split(".")[0] != a_key.split(".")[0]]
b_default = DEFAULT_KNOBS[1] if DEFAULT_KNOBS[1] in b_keys else b_keys[0]
if st.session_state.get("inter.b") not in b_keys:
    st.session_state["inter.b"] = b_default
b_key = cols[1].selectbox("Knob B (columns)", b_keys, key="inter.b", format_func=knob_title)
# On a retrieval folder the accuracy ratio is nDCG@10 retained rather than STS retained.
grid_metrics = tuple("ndcg_retained" if k == "sts_retained" and data.kind == "retrieval" else k for k in GRID_METRICS)
if st.session_state.get("inter.metric") not in grid_metrics:
    st.session_state.pop("inter.metric", None)
metric = cols[2].radio("Show", grid_metrics, key="inter.metric", format_func=lambda k: METRICS[k].name, horizontal=True,
                       help="Ratios to the baseline, so 'off x off' is 1. STS needs a pair file, nDCG@10 a BEIR "
                            "retrieval folder (sidebar).")

sel = st.columns(2)
a_off, b_off = axes[a_key][0], axes[b_key][0]
a_more = sel[0].multiselect("Settings of A (besides off)", axes[a_key][1:], default=axes[a_key][1:4], key=f"inter.a_values.{a_key}",
                            format_func=lambda v: knob_label(a_key, v, a_off))
b_more = sel[1].multiselect("Settings of B (besides off)", axes[b_key][1:], default=axes[b_key][1:4], key=f"inter.b_values.{b_key}",
                            format_func=lambda v: knob_label(b_key, v, b_off))
if not a_more or not b_more:
    st.warning("Pick at least one setting of each knob.")
    st.stop()
a_values, b_values = [a_off] + [v for v in axes[a_key][1:] if v in a_more], [b_off] + [v for v in axes[b_key][1:] if v in b_more]
try:
    cells = grid(a_key, a_values, b_key, b_values)
except SlimlibError as exc:
    st.error(str(exc))
    st.stop()
if len(cells) > MAX_CELLS:
    st.warning(f"{len(cells)} cells is more than {MAX_CELLS}: pick fewer settings.")
    st.stop()
recipes = {(c.row, c.col): cell_recipe(ctx.base.name, c, a_key, a_values, b_key, b_values) for c in cells}
found = {}
for where, recipe in recipes.items():
    try:
        found[where] = lookup(recipe, data, quick=True)
    except SlimlibError:
        found[where] = None
todo = [recipes[w] for w, entry in found.items() if entry is None]

job_panel()
action = st.columns([1, 3])
busy = st.session_state.get("job") is not None and not st.session_state["job"].done
if todo:
    if action[0].button(f"Evaluate the grid ({len(todo)} of {len(cells)} left)", type="primary", key="inter.run",
                        disabled=busy, help="Runs in the background; the Stop button above ends it after the current cell."):
        frozen, frozen_data = list(todo), data

        def work(progress, should_stop):
            for n, recipe in enumerate(frozen):
                if should_stop():
                    raise Cancelled("stopped")

                def cell_progress(message, fraction, n=n):
                    progress(f"cell {n + 1} of {len(frozen)}: {message}", (n + min(max(fraction, 0.0), 1.0)) / len(frozen))

                evaluate_and_store(recipe, frozen_data, True, cell_progress, should_stop, use_streamlit_cache=False)
            return len(frozen)

        start_job(f"interaction grid {a_key} x {b_key}", work)
        st.rerun()
    action[1].caption(f"{len(cells) - len(todo)} of {len(cells)} cells measured on {data.label}. Each cell is a quick "
                      "evaluation kept in the history: stop any time and the grid resumes where it stopped.")
else:
    action[1].caption(f"All {len(cells)} cells measured on {data.label} (quick evaluations from the history).")

measured = {w: (metrics_of(e.result)[metric] if e is not None else None) for w, e in found.items()}
table = interaction_table(measured, a_values, b_values)
a_labels = [knob_label(a_key, v, a_off) for v in a_values]
b_labels = [knob_label(b_key, v, b_off) for v in b_values]
name = METRICS[metric].name
if metric in ("sts_retained", "ndcg_retained") and all(v is None for v in measured.values()) and not data.path:
    st.info(f"{'STS needs a pair file' if metric == 'sts_retained' else 'nDCG@10 needs a retrieval folder'}: "
            "choose one in the sidebar, or show fidelity.")
if all(v is None for row in table.measured for v in row):
    st.info("Nothing measured on this grid yet: evaluate it above (cells measured elsewhere are picked up too).")
    st.stop()
figs = st.columns(3)
fmt = "{:.2f}" if metric == "speedup" else "{:.3f}"
for col, (title, matrix, diverging) in zip(figs, ((f"{name}: measured", table.measured, False),
                                                  (f"{name}: if independent", table.predicted, False),
                                                  ("measured - if independent", table.difference, True))):
    col.plotly_chart(interaction_figure(matrix, b_labels, a_labels, title, knob_title(b_key), knob_title(a_key),
                                        diverging=diverging, fmt=fmt),
                     key=f"inter.fig.{title}", width="stretch")
known = [(abs(d), i, j, d) for i, row in enumerate(table.difference) for j, d in enumerate(row) if d is not None and i and j]
if known:
    _, i, j, d = max(known)
    st.caption(f"Largest interaction: {a_labels[i]} with {b_labels[j]}: measured {fmt.format(table.measured[i][j])}, "
               f"independence predicts {fmt.format(table.predicted[i][j])} ({d:+.3f}). "
               "Row 'off' and column 'off' are each knob alone; their product is the prediction.")
