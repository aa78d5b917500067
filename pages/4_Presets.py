"""Presets: replay a published claim on this model in one click and see whether it holds here."""
from __future__ import annotations

import streamlit as st

from slimlib.errors import Cancelled, SlimlibError
from slimlib.report.presets import PRESETS, judge
from slimlib.report.result import EvalResult
from slimlib.report.tradeoff import metrics_of
from ui import page, state
from ui.controls import data_picker
from ui.evaluation import evaluate_and_store, evaluation_job, lookup
from ui.views import job_panel, start_job

page.setup("Presets")
ctx = page.load()
st.title("Presets: the claims, replayed on this model")
with st.sidebar:
    data = data_picker()
job_panel()
VERDICT_STYLE = {"confirmed": st.success, "not confirmed": st.error, "partly confirmed": st.warning}

for item in PRESETS:
    st.subheader(item.title)
    st.markdown(f"**Claim:** {item.claim}  \n**Source:** {item.source}  \n**Confirmed on:** {item.confirms_on_text()}")
    if item.note:
        st.caption(item.note)
    recipe = item.recipe(ctx.base.name)
    cols = st.columns([1, 1, 4])
    entry = lookup(recipe, data, quick=False) or lookup(recipe, data, quick=True)
    if cols[0].button("Replay", key=f"preset.run.{item.key}", disabled=entry is not None, type="primary"):
        if item.trains:
            start_job(f"preset: {item.title}", evaluation_job(recipe, data, quick=True))
            st.rerun()
        bar = st.progress(0.0, text="evaluating")
        try:
            entry = evaluate_and_store(recipe, data, True, lambda m, f: bar.progress(min(max(f, 0.0), 1.0), text=m))
        except (SlimlibError, Cancelled) as exc:
            st.error(str(exc))
        bar.empty()
    if cols[1].button("Open in Explore", key=f"preset.open.{item.key}"):
        state.restore_recipe(recipe, ctx.shape)
        st.switch_page("app.py")
    if entry is not None:
        verdict, checks = judge(item, metrics_of(entry.result), EvalResult.from_dict(entry.result).data_kind)
        VERDICT_STYLE.get(verdict, st.info)(f"On {ctx.base.name}: {verdict} "
                                            f"({'quick' if entry.quick else 'full'} evaluation, {entry.data_label}).")
        st.dataframe([{"claim": c["claim"], "expected": c["expected"],
                       "measured": "not measured" if c["measured"] is None else f"{c['measured']:.4g}",
                       "holds": {True: "yes", False: "no", None: "n/a"}[c["passed"]]} for c in checks], hide_index=True)
    with st.expander("Recipe"):
        st.code(recipe.to_json(), language="json")
