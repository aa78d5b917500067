"""The app's entrypoint (`make run`): the navigation, and the Explore page, where every control
updates the size / speed / accuracy picture.

Streamlit runs this file for every page: `ui.page.route` declares the pages (this one as Explore,
then every file in pages/) and runs the chosen one; when the chosen one is Explore, this file runs
again as the page and `explore()` draws it.

Training-free configs are evaluated quickly in the page run (a subset of the data, cached and
stored in the history); configs that distil, and full evaluations, run as a background job with a
progress bar and a Stop button.
"""
from __future__ import annotations

import streamlit as st

from slimlib.errors import Cancelled, SlimlibError
from slimlib.ops.recipe import Recipe
from slimlib.report.goal import rank
from slimlib.report.tradeoff import choose_y
from ui import page, state
from ui.controls import data_picker, model_picker, op_controls
from ui.evaluation import baseline_entry, evaluate_and_store, evaluation_job, lookup
from ui.speed_timer import background_speed
from ui.resources import history
from ui.views import (axis_pickers, chart_points, goal_editor, goal_table, job_panel, metric_cards, start_job, tradeoff_chart,
                      watch_pending_speed)

INTRO = (
    "**What am I looking at?** slimlib makes a sentence-embedding model smaller and faster (prune attention heads, "
    "drop layers, quantize, ...) and measures what that costs. Switch compressions on in the sidebar: the cards "
    "below show the compressed model's size, speed and accuracy next to the original's, and every config you try "
    "becomes a point on the trade-off chart (with the default axes, further left is smaller and higher keeps more "
    "of the original's accuracy; the dotted line joins the configs nothing else beats on both). Click a point to bring its config "
    "back. Set a goal to have the best config marked for you; Compare, Export and Present take it from there."
)


def explore() -> None:
    page.setup("Explore")
    with st.sidebar:
        st.header("Model")
        model_name = model_picker()
    ctx = page.load(model_name)
    with st.sidebar:
        data = data_picker()
        st.header("Compression")
        op_controls(ctx.shape)

    st.title("Explore")
    st.markdown(INTRO)
    st.caption(f"{ctx.base.name}: {ctx.shape.num_layers} layers x {max(ctx.shape.heads)} heads, hidden {ctx.shape.hidden}, "
               f"vocabulary {ctx.shape.vocab}. Evaluation data: {data.label}.")
    recipe = page.current_recipe(ctx)
    job_panel()

    current = None
    if recipe is not None:
        trains = recipe.find("distill") is not None
        bar = st.empty()

        def report(message: str, fraction: float) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        try:
            live = background_speed()
            baseline = baseline_entry(recipe.base_model, data, True, report, live=live)
            current = lookup(recipe, data, quick=False) or lookup(recipe, data, quick=True)
            if current is None and not trains:
                current = evaluate_and_store(recipe, data, True, report, live=live)
            watch_pending_speed([e for e in (baseline, current) if e is not None])
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
                start_job("distillation + quick evaluation", evaluation_job(recipe, data, quick=True))
                st.rerun()
        if current is not None and current.quick and data.path:
            every = "all queries and documents" if data.kind == "retrieval" else "all pairs"
            if buttons[1].button("Run full evaluation", help=f"{every[0].upper() + every[1:]}, all speed sentences; "
                                                             "runs in the background, with progress and Stop."):
                start_job("full evaluation", evaluation_job(recipe, data, quick=False))
                st.rerun()

    if current is not None:
        metric_cards(current)
        for note in current.result.get("notes", []):
            st.caption(f"note: {note}")

    st.subheader("Goal: one number for what you care about")
    goal = goal_editor(data.kind)
    if recipe is not None:
        state.publish_link(recipe)  # after the goal editor, so the link carries the goal too

    st.subheader("Trade-off")
    x_axis, y_wanted, log_x = axis_pickers(data.kind)
    keys = {data.key(True), data.key(False)}
    entries = [e for e in history().entries(model_hash=ctx.base.content_hash) if e.data_key in keys]
    points = chart_points(entries)
    y_axis, fallback = choose_y(points, y_wanted, data.kind)
    if fallback:
        st.info(fallback)
    outcome = rank(points, goal) if goal is not None else None
    best_id = points[outcome.best]["id"] if outcome and outcome.best is not None else None
    if outcome:
        for p, score in zip(points, outcome.scores):
            p["goal_text"] = score.status()
    chart_key = f"tradeoff.{st.session_state.get('chart_generation', 0)}"
    picked = tradeoff_chart(points, x_axis, y_axis, current.id if current else None, chart_key, log_x=log_x,
                            best_id=best_id)
    bars = (" Vertical bars: the 95% interval of the accuracy (paired bootstrap over the "
            + ("queries" if data.kind == "retrieval" else "pairs") + ").") if any(
        (p.get("intervals") or {}).get(y_axis) for p in points) else ""
    st.caption(f"{len(entries)} configs evaluated on this data. Circles: quick evaluations (a subset of the data); "
               f"diamonds: full evaluations.{bars} Faded: dominated (another config is better on both axes). Grey diamonds "
               "with names: published results on other models (not measured here). Click a point to restore its config.")
    if outcome is not None:
        if outcome.best is not None:
            best = points[outcome.best]
            st.success(f"Best for your goal ({goal.describe()}): #{best['id']} {best['label']}"
                       + (f", tied with {len(outcome.ties) - 1} more" if len(outcome.ties) > 1 else "")
                       + ". Marked with an orange star.")
        elif outcome.closest is not None:
            close = points[outcome.closest]
            st.warning(f"No evaluated config meets the goal yet. Closest: #{close['id']} {close['label']} "
                       f"({outcome.scores[outcome.closest].status()}).")
        else:
            st.warning("No evaluated config can be judged against this goal: the metrics it names were not measured.")
        st.dataframe(goal_table(points, outcome, goal), hide_index=True, width="stretch")
        st.caption("distance: how far a config misses the constraints (the sum of its relative shortfalls; 0 meets "
                   "them). score: the objective, higher is better (a metric to minimise counts negatively).")
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


if not page.route(__file__):  # this file's second run, as the Explore page
    explore()
