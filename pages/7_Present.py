"""Present: one printable page for a meeting: the trade-off chart with the chosen config, its numbers
and how they were measured, the goal, and whether this model confirms the published claims.

Print it from the browser (Ctrl+P): the print style hides the sidebar and controls and fits the
page on one landscape sheet. The same content is downloadable as a self-contained HTML report.
"""
from __future__ import annotations

import html

import streamlit as st

from slimlib.ops.registry import recipe_label
from slimlib.report.charts import tradeoff_figure
from slimlib.report.goal import rank
from slimlib.report.html import render_report
from slimlib.report.presets import PRESETS, judge
from slimlib.report.result import EvalResult, measurement_text, table_rows
from slimlib.report.tradeoff import choose_y, metrics_of
from ui import page, state
from ui.controls import data_picker
from ui.evaluation import lookup
from ui.resources import history
from ui.views import chart_points

PRINT_CSS = """
<style>
@media print {
  @page { size: A4 landscape; margin: 7mm; }
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
  [data-testid="stStatusWidget"], [data-testid="stSidebarCollapsedControl"], [data-testid="stDownloadButton"],
  [data-testid="stRadio"], .present-screen-only { display: none !important; }
  .stMainBlockContainer, [data-testid="stMainBlockContainer"], .block-container
    { padding: 0 !important; max-width: 100% !important; }
  [data-testid="stAppViewContainer"], [data-testid="stMain"], section.main { overflow: visible !important; }
  /* keep the chart and the numbers side by side on the sheet */
  [data-testid="stHorizontalBlock"] { display: flex !important; flex-wrap: nowrap !important; gap: 0.8rem !important; }
  [data-testid="stColumn"] { min-width: 0 !important; }
  body { font-size: 9.5pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h1 { font-size: 16pt !important; padding: 0 !important; margin: 0 0 1mm 0 !important; }
  h3 { font-size: 11pt !important; padding: 0.5mm 0 !important; margin: 0 !important; }
  [data-testid="stVerticalBlock"] { gap: 0.25rem !important; }
  [data-testid="stCaptionContainer"], .present-table { font-size: 8pt !important; }
  [data-testid="stElementContainer"] { break-inside: avoid; }
}
.present-table table { width: 100%; border-collapse: collapse; font-size: 0.82rem; }
.present-table td, .present-table th { border-bottom: 1px solid #ddd; padding: 2px 6px; text-align: right; vertical-align: top; }
.present-table td:first-child, .present-table th:first-child, .present-table td:last-child, .present-table th:last-child,
.present-claims td, .present-claims th { text-align: left; }
.present-yes { color: #1a7f37; font-weight: 600; } .present-no { color: #cf222e; font-weight: 600; }
.present-partly { color: #9a6700; font-weight: 600; }
</style>
"""
# Text, not emoji: print and headless browsers often lack an emoji font.
VERDICT_CLASS = {"confirmed": "present-yes", "not confirmed": "present-no", "partly confirmed": "present-partly"}

page.setup("Present")
st.markdown(PRINT_CSS, unsafe_allow_html=True)
ctx = page.load()
with st.sidebar:
    data = data_picker()
goal = state.goal()
recipe = page.current_recipe(ctx)

entries = [e for e in history().entries(model_hash=ctx.base.content_hash) if e.data_key in {data.key(True), data.key(False)}]
points = chart_points(entries)
outcome = rank(points, goal) if goal is not None else None
best_id = points[outcome.best]["id"] if outcome and outcome.best is not None else None
current = None
if recipe is not None:
    current = lookup(recipe, data, quick=False) or lookup(recipe, data, quick=True)

choices = {}
if current is not None:
    choices["the config from Explore"] = current.id
if best_id is not None:
    choices["the goal's best config"] = best_id
if not choices:
    st.title(f"{ctx.base.name}")
    st.info("Nothing to present yet: evaluate a config on the Explore page (or set a goal there), then come back.")
    st.stop()
which = st.radio("Present", list(choices), horizontal=True, key="present.which")
chosen = history().get(choices[which])
result = EvalResult.from_dict(chosen.result)

st.title(f"{ctx.base.name}: {recipe_label(chosen.recipe)}")
left, right = st.columns([1, 1])
with left:
    y, fallback = choose_y(points, None, data.kind)  # nDCG@10 retained on a retrieval folder, STS on pairs
    fig = tradeoff_figure(points, x="size", y=y, current_id=chosen.id, best_id=best_id)
    fig.update_layout(height=330, legend=dict(font=dict(size=9)), margin=dict(l=0, r=0, t=60, b=0))
    st.plotly_chart(fig, key="present.chart", width="stretch", config={"displayModeBar": False, "staticPlot": True})
    st.caption(f"{len(points)} configs evaluated on {data.label}; red ring: this config"
               + ("; orange star: best for the goal" if best_id is not None else "")
               + ". Faded points are dominated. " + (fallback or ""))
with right:
    st.subheader("Its numbers")
    table = [{**r, "how": r["how"] + (f"; {r['interval']}" if r.get("interval") else "")} for r in table_rows(result)]
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[k]))}</td>" for k in ("name", "baseline", "compressed", "ratio", "how"))
                   + "</tr>" for r in table)
    st.markdown(f"<div class='present-table'><table><tr><th>metric</th><th>baseline</th><th>this config</th>"
                f"<th>ratio</th><th>how</th></tr>{rows}</table></div>", unsafe_allow_html=True)
    hw = result.measurement.get("hardware") or {}
    st.caption("How measured: " + measurement_text(result)
               + (f" CPU: {hw.get('cpu')}, {hw.get('cores')} cores." if hw.get("cpu") else "")
               + f" Data: {chosen.data_label}.")
    st.subheader("Goal")
    if goal is None:
        st.markdown("No goal set (set one on the Explore page).")
    else:
        st.markdown(goal.describe())
        score = outcome.scores[[p["id"] for p in points].index(chosen.id)] if chosen.id in [p["id"] for p in points] else None
        if outcome.best is not None:
            best = points[outcome.best]
            st.markdown(f"Best: **#{best['id']} {best['label']}**" + (" (this config)" if best["id"] == chosen.id else "")
                        + (f". This config: {score.status()}." if score is not None and best["id"] != chosen.id else "."))
        else:
            st.markdown("No evaluated config meets it yet" + (f"; this config: {score.status()}." if score else "."))

st.subheader("The claims, on this model")
claim_rows = []
for item in PRESETS:
    entry = lookup(item.recipe(ctx.base.name), data, quick=False) or lookup(item.recipe(ctx.base.name), data, quick=True)
    if entry is None:
        verdict_html, measured = "not replayed yet (Presets page)", ""
    else:
        verdict, checks = judge(item, metrics_of(entry.result))
        verdict_html = (f"<span class='{VERDICT_CLASS.get(verdict, '')}'>{html.escape(verdict)}</span>"
                        f" ({'quick' if entry.quick else 'full'})")
        measured = "; ".join(f"{c['claim']}: " + ("not measured" if c["measured"] is None else f"{c['measured']:.3g}")
                             for c in checks)
    claim_rows.append(f"<tr><td>{html.escape(item.claim)}</td><td>{verdict_html}</td><td>{html.escape(measured)}</td>"
                      f"<td>{html.escape(item.source)}</td></tr>")
st.markdown("<div class='present-table present-claims'><table><tr><th>claim</th><th>on this model</th><th>measured</th>"
            "<th>source</th></tr>" + "".join(claim_rows) + "</table></div>", unsafe_allow_html=True)

results = [e.result for e in entries if e.recipe.get("steps")]
st.download_button("Download as an HTML report", lambda: render_report(results, goal),  # built on click: ~4 MB
                   file_name="slimlib-report.html", mime="text/html", key="present.report", on_click="ignore")
st.markdown("<p class='present-screen-only' style='color:#888;font-size:0.85rem'>Print this page from the browser "
            "(Ctrl+P): it is laid out for one landscape sheet.</p>", unsafe_allow_html=True)
