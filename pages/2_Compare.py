"""Compare: two to four evaluated configs side by side, as a table and as parallel coordinates."""
from __future__ import annotations

import streamlit as st

from slimlib.report.charts import parallel_figure, parallel_metrics
from slimlib.ops.recipe import Recipe
from slimlib.report.result import METRICS, EvalResult
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

# The accuracy columns follow the chosen configs' data: STS on pair files, nDCG@10 (and friends) on a retrieval folder.
ACCURACY_COLUMNS = {"pairs": ("sts_spearman", "sts_retained"),
                    "retrieval": ("ndcg_at_10", "ndcg_retained", "recall_at_10", "mrr_at_10")}


def columns_for(kinds: set) -> tuple[str, ...]:
    accuracy = [key for kind in ("pairs", "retrieval") if kind in kinds for key in ACCURACY_COLUMNS[kind]]
    return ("size_mb", "size", "params", "speedup", *(accuracy or ACCURACY_COLUMNS["pairs"]), "fidelity", "latency_ms")


kinds = {EvalResult.from_dict(by_id[i].result).data_kind for i in chosen}
COLUMNS = columns_for(kinds)
rows = []
for entry_id in chosen:
    e = by_id[entry_id]
    m = metrics_of(e.result)
    row = {"config": f"#{e.id} {recipe_label(e.recipe)}", "evaluation": "quick" if e.quick else "full", "data": e.data_label}
    for key in COLUMNS:
        row[METRICS[key].label] = METRICS[key].format(m[key])  # "not measured", never "None"
    row["how"] = ", ".join(sorted({str(v) for v in e.result.get("labels", {}).values()})) or "measured"
    rows.append(row)
st.dataframe(rows, hide_index=True)
names = [f"#{i} {recipe_label(by_id[i].recipe)}" for i in chosen]
st.plotly_chart(parallel_figure([metrics_of(by_id[i].result) for i in chosen], parallel_metrics(kinds), names=names),
                key="compare.parallel", width="stretch")
st.caption("One line per config, coloured as the bar on the right names it. Size and parameters are fractions of the "
           "baseline (lower is better); speedup a multiple of its speed; "
           + ("nDCG@10 retained a fraction of its retrieval nDCG@10; " if "retrieval" in kinds else "")
           + ("STS retained a fraction of its STS; " if "retrieval" not in kinds or "pairs" in kinds else "")
           + "fidelity the mean cosine to its embeddings (higher is better).")

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
