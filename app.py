"""Explore: every control updates the size / speed / accuracy picture (`make run` opens this page).

Training-free configs are evaluated quickly in the page run (a subset of the data, cached and
stored in the history); configs that distil, and full evaluations, run as a background job with a
progress bar and a Stop button. Other pages: Heads, Compare, Export, Presets (see pages/).
"""
from __future__ import annotations

import streamlit as st

from slimlib.errors import Cancelled, SlimlibError
from slimlib.ops.recipe import Recipe
from ui import page, state
from ui.controls import data_picker, model_picker, op_controls
from ui.evaluation import baseline_entry, evaluate_and_store, lookup
from ui.resources import history
from ui.views import axis_pickers, job_panel, metric_cards, start_job, tradeoff_chart

page.setup("Explore")
with st.sidebar:
    st.header("Model")
    model_name = model_picker()
ctx = page.load(model_name)
with st.sidebar:
    data = data_picker()
    st.header("Compression")
    op_controls(ctx.shape)

st.title("slimlib explorer")
st.caption(f"{ctx.base.name}: {ctx.shape.num_layers} layers x {max(ctx.shape.heads)} heads, hidden {ctx.shape.hidden}, "
           f"vocabulary {ctx.shape.vocab}. Evaluation data: {data.label}.")
recipe = page.current_recipe(ctx)
job_panel()

current = None
if recipe is not None:
    state.publish_link(recipe)
    trains = recipe.find("distill") is not None
    bar = st.empty()

    def report(message: str, fraction: float) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        baseline_entry(recipe.base_model, data, True, report)
        current = lookup(recipe, data, quick=False) or lookup(recipe, data, quick=True)
        if current is None and not trains:
            current = evaluate_and_store(recipe, data, True, report)
    except Cancelled:
        st.warning("Evaluation stopped.")
    except SlimlibError as exc:
        st.error(str(exc))
    bar.empty()

    buttons = st.columns([1, 1, 3])
    if trains and current is None:
        st.info("This config trains (distillation), which takes minutes: start it when ready. "
                "It runs in the background; you can keep exploring.")
        if buttons[0].button("Train and evaluate", type="primary"):
            frozen_recipe, frozen_data = Recipe.from_dict(recipe.to_dict()), data
            start_job("distillation + quick evaluation",
                      lambda progress, should_stop: evaluate_and_store(frozen_recipe, frozen_data, True, progress, should_stop,
                                                                       use_streamlit_cache=False))
            st.rerun()
    if current is not None and current.quick and data.path:
        if buttons[1].button("Run full evaluation", help="All pairs, all speed sentences; runs in the background."):
            frozen_recipe, frozen_data = Recipe.from_dict(recipe.to_dict()), data
            start_job("full evaluation",
                      lambda progress, should_stop: evaluate_and_store(frozen_recipe, frozen_data, False, progress, should_stop,
                                                                       use_streamlit_cache=False))
            st.rerun()

if current is not None:
    metric_cards(current)
    for note in current.result.get("notes", []):
        st.caption(f"note: {note}")

st.subheader("Trade-off")
x_axis, y_axis = axis_pickers()
keys = {data.key(True), data.key(False)}
entries = [e for e in history().entries(model_hash=ctx.base.content_hash) if e.data_key in keys]
chart_key = f"tradeoff.{st.session_state.get('chart_generation', 0)}"
picked = tradeoff_chart(entries, x_axis, y_axis, current.id if current else None, chart_key)
st.caption(f"{len(entries)} configs evaluated on this data. Marker size: latency. Faded: dominated. "
           "Grey diamonds: published results on other models (not measured here). Click a point to restore its config.")
if picked is not None:
    chosen = history().get(picked)
    if chosen is not None:
        try:
            state.restore_recipe(Recipe.from_dict(chosen.recipe, f"history #{picked}"), ctx.shape)
        except SlimlibError as exc:
            st.error(str(exc))
        st.session_state["chart_generation"] = st.session_state.get("chart_generation", 0) + 1
        st.rerun()

if recipe is not None:
    with st.expander("Recipe (canonical order)"):
        st.code(recipe.to_json(), language="json")
