"""Compare: two to four evaluated configs side by side, as a table and as parallel coordinates."""
from __future__ import annotations

import streamlit as st

from slimlib.report.charts import parallel_figure
from slimlib.ops.recipe import Recipe
from slimlib.report.tradeoff import metrics_of
from ui import page, state
from ui.resources import history
from ui.views import recipe_label

page.setup("Compare")
ctx = page.load()
st.title("Compare configs")
entries = history().entries()
if len(entries) < 2:
    st.info("Evaluate at least two configs on the Explore page first; every evaluation is kept in the history.")
    st.stop()

by_id = {e.id: e for e in entries}


def describe(entry_id: int) -> str:
    e = by_id[entry_id]
    return f"#{e.id} {recipe_label(e.recipe)} [{e.base_model}, {e.data_label}, {'quick' if e.quick else 'full'}]"


default = [e.id for e in entries[-2:]]
chosen = st.multiselect("Configs (2 to 4)", list(by_id), default=default, format_func=describe, max_selections=4,
                        key="compare.ids")
if len(chosen) < 2:
    st.warning("Choose at least two configs.")
    st.stop()

rows = []
for entry_id in chosen:
    e = by_id[entry_id]
    result = e.result
    m = metrics_of(result)
    rows.append({
        "config": f"#{e.id} {recipe_label(e.recipe)}",
        "size MB": m["size_mb"], "size": m["size"], "params": m["params"], "speedup": m["speedup"],
        "STS x100": m["sts_spearman"], "sts_retained": m["sts_retained"], "fidelity": m["fidelity"],
        "latency ms": m["latency_ms"], "evaluation": "quick" if e.quick else "full", "data": e.data_label,
        "labels": ", ".join(sorted({v for v in result.get("labels", {}).values()})),
    })
st.dataframe(rows, hide_index=True)
st.plotly_chart(parallel_figure([{**metrics_of(by_id[i].result)} for i in chosen], names=[f"#{i}" for i in chosen]),
                key="compare.parallel", width="stretch")
st.caption("size and params are fractions of the baseline; speedup a multiple; sts_retained a fraction of the baseline's STS.")

st.subheader("Open one in Explore")
cols = st.columns(len(chosen))
for col, entry_id in zip(cols, chosen):
    if col.button(f"Open #{entry_id}", key=f"compare.open.{entry_id}"):
        state.restore_recipe(Recipe.from_dict(by_id[entry_id].recipe, f"history #{entry_id}"), ctx.shape)
        st.switch_page("app.py")
with st.expander("Recipes"):
    for entry_id in chosen:
        st.markdown(f"**#{entry_id}**")
        st.json(by_id[entry_id].recipe)
