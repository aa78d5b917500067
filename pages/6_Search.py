"""Search: a Pareto search over recipes runs in the background while its frontier grows here.

The search is `python -m slimlib search` in a subprocess (one per session, kept across reruns,
stopped with SIGINT so the trials in flight are re-queued); the page only reads the study store,
refreshing the chart every few seconds from a fragment. Any trial opens in Explore. Trials are quick
evaluations, the same definition Explore uses; with one trial at a time they also run at Explore's
torch threads, so a trial's speed-up is the number Explore shows for its recipe.
"""
from __future__ import annotations

import os
import time

import streamlit as st
import torch

from slimlib.data.pairs import QUICK_PAIRS
from slimlib.errors import SlimlibError
from slimlib.ops.recipe import Recipe
from slimlib.sweep import frontier, store
from slimlib.sweep.background import SearchProcess, search_command, write_space
from slimlib.sweep.space import default_axes
from ui import page, state
from ui.controls import data_picker

PROC, STUDY, DRAWN_RUNNING = "search.proc", "search.study", "search.drawn_running"
REFRESH_S = 3
STOP_WAIT_S = 30  # a stop re-queues the trials in flight and closes the workers: seconds, not minutes

page.setup("Search")
ctx = page.load()
with st.sidebar:
    data = data_picker()
st.title("Pareto search")
st.caption(f"Optuna NSGA-II proposes recipes for {ctx.base.name}; Dask workers measure them (quick evaluations). "
           "Every trial is stored as it lands, so a stopped search can be resumed by starting it again "
           "with the same study name.")

proc: SearchProcess | None = st.session_state.get(PROC)
running = proc is not None and proc.running
st.session_state[DRAWN_RUNNING] = running  # the live view redraws the page when this goes stale
axes = default_axes(ctx.shape)
explore_threads = torch.get_num_threads()  # what Explore's quick evaluations run at in this server

with st.form("search.form"):
    left, right = st.columns(2)
    n_trials = left.number_input("Trials", min_value=2, max_value=1000, value=30, step=5,
                                 help="Finished trials the study should hold (a resumed study runs only the rest).")
    metrics = ["size", "speed", "fidelity"] + (["sts"] if data.path else [])
    chosen = right.multiselect("Objectives", metrics, default=["size", "speed", "sts" if data.path else "fidelity"],
                               help="size and params are minimized; speed, fidelity and sts maximized.")
    picked_ops = st.multiselect("Search over", list(axes), default=list(axes),
                                format_func=lambda key: f"{key}  {axes[key]}",
                                help="Training-free ops of this build; 0 in a list means 'op left out'.")
    cores = os.cpu_count() or 1
    engine = left.radio("Engine", ["local", "inline"], horizontal=True,
                        help="local: a Dask cluster of worker processes on this machine; inline: one process.")
    workers = right.slider("Trials at once (local engine)", 1, cores, 1,
                           help=f"Each trial gets {explore_threads} torch threads / trials at once. One at a time "
                                "measures every trial as Explore does; more finish sooner, each timed at fewer threads.")
    study_name = st.text_input("Study name (an existing one is resumed)",
                               value=st.session_state.get(STUDY) or time.strftime("app-search-%Y%m%d-%H%M%S"))
    start = st.form_submit_button("Start search", type="primary", disabled=running, key="search.start")
st.caption(f"Every trial is a quick evaluation, as in Explore: speed timed against the baseline in the same worker "
           f"and call, fidelity, and STS on a stratified sample of {QUICK_PAIRS} pairs.")

if start:
    if not chosen or not picked_ops:
        st.error("Pick at least one objective and one op to search over.")
    else:
        at_once = workers if engine == "local" else 1
        space_file = write_space(study_name, ctx.base.name, {k: axes[k] for k in picked_ops})
        command = search_command(study_name, space_file, int(n_trials), ",".join(chosen), engine, at_once,
                                 data.path, quick=True, threads=max(1, explore_threads // at_once))
        st.session_state[PROC] = SearchProcess(study_name, command)
        st.session_state[STUDY] = study_name
        st.rerun()

studies = [s["name"] for s in store.list_studies() if s["kind"] in ("search", "sweep")]
current = st.session_state.get(STUDY)
if current not in studies and current is not None:
    studies.insert(0, current)  # just started: the subprocess has not created it yet
if not studies:
    st.info("No search yet: start one above.")
    st.stop()
watched = st.selectbox("Study", studies, index=studies.index(current) if current in studies else len(studies) - 1)
axis_cols = st.columns(2)
x_axis = axis_cols[0].selectbox("x", list(frontier.AXES), index=0, format_func=frontier.AXES.get)
y_axis = axis_cols[1].selectbox("y", list(frontier.AXES), index=3, format_func=frontier.AXES.get)


@st.fragment(run_every=REFRESH_S)
def live_view() -> None:
    proc_now: SearchProcess | None = st.session_state.get(PROC)
    if proc_now is not None and proc_now.study == watched:
        if proc_now.running:
            cols = st.columns([4, 1])
            cols[0].info(f"Searching ({time.time() - proc_now.started:.0f} s)... "
                         + (proc_now.log_tail(1) or ["starting (workers import the model stack)"])[0][:160])
            if cols[1].button("Stop", key="search.stop"):
                proc_now.stop()
                with st.spinner("Stopping: the trials in flight are re-queued for a resume..."):
                    proc_now.wait(STOP_WAIT_S)
                st.rerun()  # the whole page: Start is enabled again
        elif st.session_state.get(DRAWN_RUNNING):
            st.rerun()  # the search ended since the page was drawn: redraw it whole (Start enabled)
        elif proc_now.state == "stopped":
            st.info("Search stopped. The finished trials are kept and the ones in flight were re-queued: "
                    "start it again with the same study name to resume.")
        elif proc_now.state == "finished":
            st.success("Search finished.")
        elif proc_now.state == "failed":
            st.warning(f"The search failed (exit code {proc_now.returncode}): "
                       + " | ".join(proc_now.log_tail(3))[-400:])
    try:
        meta, rows, front = store.study_rows(watched)
    except SlimlibError:
        st.caption("Waiting for the first trial...")
        return
    pts = frontier.points(rows, front)
    failed = sum(1 for r in rows if r["state"] == "FAIL" and r.get("error"))
    st.caption(f"{len(pts)} measured, {failed} failed, {len(front)} on the Pareto front "
               f"(objectives: {', '.join(meta.get('objectives', []))}).")
    if pts:
        st.plotly_chart(frontier.figure(pts, x_axis, y_axis), key="search.chart")
        table = [{k: p[k] for k in ("trial", "on_front", "size_mb", "speedup", "fidelity", "sts", "settings")}
                 for p in sorted(pts, key=lambda p: (not p["on_front"], p["trial"]))]
        st.dataframe(table, hide_index=True, height=260)
        threads = sorted({p["threads"] for p in pts if p.get("threads")})
        if threads:
            st.caption(f"speedup: quick evaluation, timed against the baseline in the same call at "
                       f"{'/'.join(map(str, threads))} torch thread(s); Explore measures at {explore_threads}.")
        by_trial = {r["trial"]: r for r in rows if r.get("recipe")}
        options = [p["trial"] for p in table]
        cols = st.columns([3, 1])
        trial = cols[0].selectbox("Trial", options, format_func=lambda t: f"#{t} {by_trial[t].get('settings')}",
                                  key="search.trial")
        if cols[1].button("Open in Explore", key="search.open") and trial in by_trial:
            try:
                state.restore_recipe(Recipe.from_dict(by_trial[trial]["recipe"], f"trial #{trial}"),
                                     ctx.shape)
            except SlimlibError as exc:
                st.error(str(exc))
            else:
                st.switch_page("app.py")


live_view()
