"""Heads: the layer x head importance map (click a cell to prune or keep that head) and where the
parameters live before and after the current recipe."""
from __future__ import annotations

import numpy as np
import streamlit as st

from slimlib.report.charts import heads_figure, treemap_figure
from slimlib.errors import Cancelled, SlimlibError
from slimlib.measure.inspection import param_breakdown, param_summary
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.prune_heads import plan_global, plan_per_layer
from slimlib.ops.recipe import Recipe
from ui import page, state
from ui.resources import base_model

page.setup("Heads")
ctx = page.load()
cfg = state.config()
st.title("Heads and where the parameters live")


@st.cache_data(max_entries=8, show_spinner="Scoring heads (once per model and method)...")
def head_scores(model_hash: str, method: str, _base) -> list[list[float]]:
    from slimlib.ops.importance import head_importance

    return np.nan_to_num(head_importance(_base, method), nan=0.0).tolist()


@st.cache_data(max_entries=32, show_spinner="Applying the recipe's structural steps...")
def breakdown_after(model_hash: str, recipe_json: str) -> list[dict]:
    recipe = Recipe.from_json(recipe_json)
    return param_breakdown(apply_recipe(recipe, base_model(recipe.base_model)).st_model)


@st.cache_data(max_entries=8, show_spinner=False)
def breakdown_before(model_hash: str, _base) -> list[dict]:
    return param_breakdown(_base.model)


def removed_by(values: dict, scores: list[list[float]]) -> dict[str, list[int]]:
    """The heads the current head control removes, planned exactly as the prune_heads op plans them."""
    rows = [np.asarray(row) for row in scores]
    if values["mode"] == "explicit":
        return {k: list(v) for k, v in values.get("heads", {}).items() if v}
    if values["mode"] == "per_layer":
        plan = plan_per_layer(rows, int(values["per_layer"]))
    elif values["mode"] == "fraction":
        plan = plan_global(rows, float(values["fraction"]))
    else:
        plan = {}
    return {str(layer): heads for layer, heads in plan.items()}


def toggle_head(layer: int, head: int, scores: list[list[float]]) -> None:
    """Switch the recipe to explicit heads (starting from what the current setting removes) and flip one."""
    heads = removed_by(cfg["ops"]["prune_heads"], scores)
    ids = set(heads.get(str(layer), []))
    ids ^= {head}
    heads[str(layer)] = sorted(ids)
    ops = {**cfg["ops"], "prune_heads": {**cfg["ops"]["prune_heads"], "mode": "explicit",
                                         "heads": {k: v for k, v in heads.items() if v}}}
    state.set_config({**cfg, "ops": ops})


st.subheader("Head importance")
method = st.radio("Importance score", ["magnitude", "taylor"], horizontal=True, key="heads.method",
                  help="magnitude: weight norms (instant). taylor: how far the embedding moves when the head is "
                       "switched off (a few seconds, cached on disk).")
try:
    scores = head_scores(ctx.base.content_hash, method, ctx.base)
except SlimlibError as exc:
    st.error(str(exc))
    st.stop()
removed = removed_by(cfg["ops"]["prune_heads"], scores)
can_prune = True
gen = st.session_state.get("heads_generation", 0)
event = st.plotly_chart(heads_figure(scores, removed), key=f"heads.{gen}", on_select="rerun" if can_prune else "ignore",
                        selection_mode="points", width="stretch")
st.caption(f"{sum(len(v) for v in removed.values())} heads removed by the current config (crosses). "
           + ("Click a cell to remove or keep that head; the recipe switches to explicit heads."
              if can_prune else "The prune_heads op is not registered in this build: the map is read-only."))
if can_prune and event:
    for point in event.selection.points or []:
        custom = point.get("customdata")
        if custom:
            toggle_head(int(custom[0]), int(custom[1]), scores)
            st.session_state["heads_generation"] = gen + 1
            st.rerun()

st.subheader("Where the parameters live")
recipe = page.current_recipe(ctx)
cols = st.columns(2)
before = breakdown_before(ctx.base.content_hash, ctx.base)
cols[0].plotly_chart(treemap_figure(before, title=f"before: {param_summary(before)['total']:,} parameters"),
                     key="treemap.before", width="stretch")
if recipe is not None:
    structural = Recipe(recipe.base_model, [s for s in recipe.steps if s.op != "distill"], recipe.name)
    try:
        after = breakdown_after(ctx.base.content_hash, structural.to_json())
    except (SlimlibError, Cancelled) as exc:
        cols[1].error(str(exc))
    else:
        cols[1].plotly_chart(treemap_figure(after, title=f"after: {param_summary(after)['total']:,} parameters"),
                             key="treemap.after", width="stretch")
        summary_before, summary_after = param_summary(before), param_summary(after)
        st.dataframe([{"part": k, "before": summary_before[k], "after": summary_after[k],
                       "kept": f"{summary_after[k] / summary_before[k]:.1%}" if summary_before[k] else "n/a"}
                      for k in summary_before], hide_index=True)
        if recipe.find("distill"):
            st.caption("Distillation changes weights, not where they live: the 'after' map skips it.")
