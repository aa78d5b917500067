"""Drawing pieces shared by the pages: metric cards, the trade-off chart, the background-job panel."""
from __future__ import annotations

import json

import streamlit as st

from slimlib.report.charts import tradeoff_figure
from slimlib.history import Entry
from slimlib.report.references import references
from slimlib.report.tradeoff import X_CHOICES, Y_CHOICES, METRICS, baseline_metrics, metrics_of

from .jobs import Job

from slimlib.ops.registry import recipe_label  # noqa: E402  (re-exported for the pages)

def entry_point(entry: Entry) -> dict:
    """One history row as a chart point."""
    baseline = not entry.recipe.get("steps")
    metrics = baseline_metrics(entry.result) if baseline else metrics_of(entry.result)
    return {
        **metrics,
        "id": entry.id,
        "kind": "baseline" if baseline else "config",
        "label": ("baseline" if baseline else recipe_label(entry.recipe)) + (" (full)" if not entry.quick else ""),
        "evaluation": "quick" if entry.quick else "full",
        "recipe_text": json.dumps(entry.recipe.get("steps", []), sort_keys=True),
    }


def _fmt_delta(value, base, unit_fmt, invert=False):
    if value is None or base in (None, 0):
        return None
    change = value / base - 1
    return f"{change:+.1%}"


def metric_cards(entry: Entry) -> None:
    """Size, speed and accuracy with deltas against the baseline and how each was obtained."""
    result = entry.result
    comp, base, labels, ratios = result["compressed"], result["baseline"], result.get("labels", {}), result.get("ratios", {})
    cols = st.columns(5)
    cols[0].metric("Size", f"{comp['size_bytes'] / 1e6:.1f} MB", _fmt_delta(comp["size_bytes"], base["size_bytes"], None),
                   delta_color="inverse", help=f"baseline {base['size_bytes'] / 1e6:.1f} MB")
    cols[0].caption(labels.get("size_bytes", "measured"))
    cols[1].metric("Parameters", f"{comp['params'] / 1e6:.2f} M", _fmt_delta(comp["params"], base["params"], None),
                   delta_color="inverse", help=f"baseline {base['params'] / 1e6:.2f} M")
    cols[1].caption(labels.get("params", "measured"))
    speed = comp.get("sentences_per_s")
    cols[2].metric("Speed", f"{speed:.0f} sent/s" if speed else "n/a",
                   f"{ratios['speedup']:.2f}x" if ratios.get("speedup") else None,
                   help=f"baseline {base.get('sentences_per_s') or 0:.0f} sent/s, measured interleaved in one process")
    cols[2].caption(labels.get("sentences_per_s", "measured"))
    sts, base_sts = comp.get("sts_spearman"), base.get("sts_spearman")
    cols[3].metric("Accuracy (STS x100)", f"{sts:.2f}" if sts is not None else "n/a",
                   f"{sts - base_sts:+.2f}" if sts is not None and base_sts is not None else None,
                   help=f"baseline {base_sts:.2f}" if base_sts is not None else "choose a pair file to measure STS")
    cols[3].caption(labels.get("sts_spearman", "measured") if sts is not None else "no pair file")
    fid = comp.get("fidelity_cosine")
    cols[4].metric("Fidelity (cosine)", f"{fid:.4f}" if fid is not None else "n/a",
                   f"{fid - 1:+.4f}" if fid is not None else None, help="mean cosine to the original model's embeddings")
    cols[4].caption(labels.get("fidelity_cosine", "measured"))
    m = result.get("measurement", {})
    st.caption(f"{'Quick' if m.get('quick') else 'Full'} evaluation: speed on {m.get('speed_sentences')} sentences x "
               f"{m.get('speed_runs')} runs, fidelity on {m.get('fidelity_sentences')} sentences"
               + (f", STS on {m.get('data_pairs')} pairs" if m.get("data_pairs") else "")
               + f", {m.get('threads')} threads.")


def axis_pickers() -> tuple[str, str]:
    cols = st.columns(2)
    x = cols[0].radio("x axis", X_CHOICES, horizontal=True, key="view.x", format_func=lambda k: METRICS[k].label)
    y = cols[1].radio("y axis", Y_CHOICES, horizontal=True, key="view.y", format_func=lambda k: METRICS[k].label)
    return x, y


def tradeoff_chart(entries: list[Entry], x: str, y: str, current_id: int | None, key: str):
    """Draw the chart; returns the selected history id (a click on a config point) or None."""
    points = [entry_point(e) for e in entries]
    fig = tradeoff_figure(points, x=x, y=y, references=references(), current_id=current_id)
    event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points", width="stretch")
    for point in (event.selection.points if event else []) or []:
        custom = point.get("customdata")
        if custom and custom[0] is not None:
            return int(custom[0])
    return None


def job_panel(on_done=None) -> None:
    """Progress and Stop for this session's background job; polls once a second."""
    # Poll only while a job exists: an idle page should not rerun every second.
    @st.fragment(run_every=1.0 if st.session_state.get("job") is not None else None)
    def panel():
        job: Job | None = st.session_state.get("job")
        if job is None:
            return
        if not job.done:
            st.progress(job.fraction, text=f"{job.label}: {job.message} ({job.elapsed:.0f} s)")
            st.button("Stop", key="job.stop", on_click=job.stop, type="secondary")
            return
        st.session_state.pop("job")
        if job.cancelled:
            st.session_state["job_notice"] = ("warning", f"{job.label}: stopped after {job.elapsed:.0f} s.")
        elif job.error:
            st.session_state["job_notice"] = ("error", f"{job.label}: {job.error}")
        else:
            st.session_state["job_notice"] = ("success", f"{job.label}: done in {job.elapsed:.0f} s.")
            if on_done is not None:
                on_done(job)
        st.rerun(scope="app")

    panel()
    notice = st.session_state.pop("job_notice", None)
    if notice:
        getattr(st, notice[0])(notice[1])


def start_job(label: str, work) -> Job | None:
    """Start a job unless one is running in this session (one at a time keeps 2 cores usable)."""
    running: Job | None = st.session_state.get("job")
    if running is not None and not running.done:
        st.warning(f"Still running: {running.label}. Stop it first.")
        return None
    job = Job(label, work).start()
    st.session_state["job"] = job
    return job
