"""Drawing pieces shared by the pages: metric cards, the trade-off chart, the goal editor, the
background-job panel."""
from __future__ import annotations

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.history import Entry
from slimlib.ops.registry import recipe_label  # noqa: F401  (re-exported for the pages)
from slimlib.report.charts import tradeoff_figure
from slimlib.report.goal import DEFAULT_GOAL, Constraint, Goal, GoalOutcome
from slimlib.report.references import references
from slimlib.report.result import METRICS, EvalResult, card_metrics, measurement_text
from slimlib.report.tradeoff import X_CHOICES, Y_CHOICES, baseline_metrics, default_y, metrics_of
from slimlib.workflows.evaluate import speed_pending

from . import state
from .jobs import Job
from .resources import history
from .speed_timer import speed_timer


def point_intervals(result: EvalResult) -> tuple[dict, dict]:
    """The 95% intervals ({metric: [low, high]}) and verdicts ({metric: "within noise", ...}) of a config's
    accuracy metrics, for the chart's error bars and hover text (none for the baseline: 1.0 by definition)."""
    intervals, verdicts = {}, {}
    for key in Y_CHOICES + ("sts_spearman", "ndcg_at_10", "recall_at_10", "mrr_at_10", "recall_retained",
                            "mrr_retained"):
        span = METRICS[key].interval(result)
        if span is not None:
            intervals[key] = [span[0], span[1]]
            if result.verdict(key):
                verdicts[key] = result.verdict(key)
    return intervals, verdicts


def entry_point(entry: Entry) -> dict:
    """One history row as a chart point: every metric, its recipe label, quick or full, how the speed
    and the accuracy were obtained (for points drawn without them) and the accuracy's 95% intervals."""
    result = EvalResult.from_dict(entry.result)
    baseline = result.is_baseline or not entry.recipe.get("steps")
    metrics = baseline_metrics(result) if baseline else metrics_of(result)
    intervals, verdicts = ({}, {}) if baseline else point_intervals(result)
    return {
        **metrics,
        "id": entry.id,
        "kind": "baseline" if baseline else "config",
        "label": "baseline" if baseline else recipe_label(entry.recipe),
        "evaluation": "quick" if entry.quick else "full",
        "data": entry.data_label,
        "how": {key: METRICS[key].how(result) for key in X_CHOICES + Y_CHOICES},
        "intervals": intervals,
        "verdicts": verdicts,
        "data_kind": result.data_kind,
    }


# Card deltas: relative change for amounts (size, parameters, speed), a difference for scores.
DIFFERENCE = {"sts_spearman": "{:+.2f}", "ndcg_at_10": "{:+.4f}", "fidelity": "{:+.4f}"}
ACCURACY_CARDS = ("sts_spearman", "ndcg_at_10")  # the cards that carry a 95% interval and a verdict


def card_delta(key: str, value: float | None, base: float | None) -> str | None:
    if value is None or base is None:
        return None
    if key in DIFFERENCE:
        return DIFFERENCE[key].format(value - base)
    if base == 0:
        return None
    return f"{value / base - 1:+.1%}"


def subset_text(result: EvalResult) -> str | None:
    """ "quick: 50 of 225 queries" / "quick: 100 of 1,500 pairs" when a quick evaluation scored a subset."""
    m = result.measurement
    if not result.quick:
        return None
    if result.data_kind == "retrieval" and m.get("data_queries"):
        total = m.get("data_queries_total") or m["data_queries"]
        return f"quick: {m['data_queries']:,} of {total:,} queries" if total != m["data_queries"] else None
    scored, total = m.get("data_pairs"), m.get("data_pairs_total")
    return f"quick: {scored:,} of {total:,} pairs" if scored and total and total != scored else None


def accuracy_caption(key: str, result: EvalResult, is_baseline: bool) -> str:
    """Under an accuracy card: how it was measured, its 95% interval (the verdict against the baseline
    when the data cannot tell them apart or can) and the quick subset it was scored on."""
    m = METRICS[key]
    parts = [m.how(result)]
    span = m.interval(result, baseline=is_baseline)
    if span is not None:
        parts.append(f"95% CI {m.format(span[0])}-{m.format(span[1])}")
    verdict = result.verdict(key)
    if verdict and not is_baseline:
        parts.append(verdict)
    subset = subset_text(result)
    if subset and m.value(result) is not None:
        parts.append(subset)
    return "; ".join(parts)


def metric_cards(entry: Entry) -> None:
    """One card per card_metrics() metric (the accuracy card is nDCG@10 on retrieval data, STS on pairs):
    value, change against the baseline, how it was obtained; the accuracy card adds its 95% interval,
    "within noise" when the data cannot tell the config from the baseline, and the quick subset.

    With no compression the config is the baseline: its cards show the baseline's own numbers, marked
    "baseline" rather than a change (its speed is the model timed against an identical copy, so a
    change would be timing noise shown as a speed-up)."""
    result = EvalResult.from_dict(entry.result)
    is_baseline = result.is_baseline or not entry.recipe.get("steps")
    keys = card_metrics(result)
    for col, key in zip(st.columns(len(keys)), keys):
        m = METRICS[key]
        value, base = m.value(result), m.baseline_value(result)
        if is_baseline:
            col.metric(m.card or m.name, m.format(base if base is not None else value, compact=True, missing="n/a"),
                       "baseline", delta_color="off", delta_arrow="off",
                       help=f"{m.help}. No compression: the original model's own value.")
        else:
            noise = result.verdict(key) == "within noise"
            col.metric(m.card or m.name, m.format(value, compact=True, missing="n/a"), card_delta(key, value, base),
                       delta_color="off" if noise else "inverse" if m.direction == "min" else "normal",
                       help=f"{m.help}. Baseline: {m.format(base, compact=True)}."
                            + (" The difference is within the noise of this data (95% paired bootstrap)." if noise else ""))
        col.caption(accuracy_caption(key, result, is_baseline) if key in ACCURACY_CARDS else m.how(result))
    st.caption(measurement_text(result)[0].upper() + measurement_text(result)[1:])


def axis_pickers(data_kind: str | None = None) -> tuple[str, str, bool]:
    """The chart's axes and log switch. The y axis starts on the data's own accuracy (nDCG@10 retained on a
    retrieval folder, STS retained on pairs) and follows a change of the data's kind."""
    ss = st.session_state
    kind_changed = ss.get("view.y_kind", data_kind) != data_kind
    if "view.y" not in ss or (kind_changed and ss["view.y"] != "fidelity"):
        ss["view.y"] = default_y(data_kind)  # (set before the radio is drawn: Streamlit allows that)
    ss["view.y_kind"] = data_kind
    cols = st.columns([2, 2, 1])
    x = cols[0].radio("x axis", X_CHOICES, horizontal=True, key="view.x", format_func=lambda k: METRICS[k].name)
    y = cols[1].radio("y axis", Y_CHOICES, horizontal=True, key="view.y", format_func=lambda k: METRICS[k].name)
    log = cols[2].checkbox("log speed axis", key="view.log", disabled=x != "speedup",
                           help="Static embeddings and int8 can sit at 50-100x: a log axis keeps the rest readable.")
    return x, y, bool(log and x == "speedup")


def chart_points(entries: list[Entry]) -> list[dict]:
    return [entry_point(e) for e in entries]


def tradeoff_chart(points: list[dict], x: str, y: str, current_id: int | None, key: str, log_x: bool = False,
                   best_id: int | None = None):
    """Draw the chart; returns the selected history id (a click on a config point) or None."""
    fig = tradeoff_figure(points, x=x, y=y, references=references(), current_id=current_id, log_x=log_x,
                          best_id=best_id)
    event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points", width="stretch")
    for point in (event.selection.points if event else []) or []:
        custom = point.get("customdata")
        if custom and custom[0] is not None:
            return int(custom[0])
    return None


# The goal -------------------------------------------------------------------------------------
# Every metric can be in a goal (a shared link may name any); the usual ones first.
GOAL_METRICS = tuple(dict.fromkeys(("sts_retained", "ndcg_retained", "fidelity", "size_mb", "size", "params", "speedup",
                                    "latency_ms", "ndcg_at_10", *METRICS)))
SUGGESTED_BOUND = {"sts_retained": 0.97, "ndcg_retained": 0.95, "fidelity": 0.98, "size_mb": 25.0, "size": 0.5,
                   "params": 0.8, "speedup": 2.0, "latency_ms": 5.0, "sts_spearman": 80.0, "ndcg_at_10": 0.3,
                   "recall_retained": 0.95, "mrr_retained": 0.95, "fidelity_spearman": 95.0}
WHOLE_UNITS = ("size_mb", "latency_ms", "param_count", "sentences_per_s", "sts_spearman", "fidelity_spearman")
OBJECTIVES = ("one metric", "weighted score")


# Short names where two metrics share one (a ratio and an absolute value).
GOAL_NAMES = {"size": "Size (x baseline)", "size_mb": "Size (MB)", "params": "Parameters (x baseline)",
              "param_count": "Parameters (count)"}


def _goal_name(key: str) -> str:
    return GOAL_NAMES.get(key, METRICS[key].name)


def _seed_goal_widgets(goal: Goal) -> None:
    # Not "w.goal.on": the toggle may already be drawn in this run (turned on by the user), and
    # Streamlit refuses a change to a drawn widget's state; the caller seeds it before drawing.
    ss = st.session_state
    ss["w.goal.constraints"] = [c.metric for c in goal.constraints if c.metric in GOAL_METRICS]
    for c in goal.constraints:
        ss[f"w.goal.bound.{c.metric}"] = float(c.bound)
    ss["w.goal.kind"] = OBJECTIVES[1] if goal.weights else OBJECTIVES[0]
    if goal.objective in GOAL_METRICS:
        ss["w.goal.objective"] = goal.objective
    if goal.weights:
        ss["w.goal.weighted"] = [k for k, _ in goal.weights if k in GOAL_METRICS]
        for k, w in goal.weights:
            ss[f"w.goal.weight.{k}"] = float(w)


def default_goal(data_kind: str | None = None) -> Goal:
    """The goal the editor starts from: on a retrieval folder, its accuracy is nDCG@10 rather than STS."""
    if data_kind != "retrieval":
        return DEFAULT_GOAL
    constraints = tuple(Constraint("ndcg_retained", c.op, SUGGESTED_BOUND["ndcg_retained"])
                        if c.metric == "sts_retained" else c for c in DEFAULT_GOAL.constraints)
    return Goal(constraints, DEFAULT_GOAL.objective, DEFAULT_GOAL.weights)


def goal_editor(data_kind: str | None = None) -> Goal | None:
    """Constraints and an objective; the text form is the session's goal (and the link's `goal`)."""
    ss = st.session_state
    current = state.goal_text()
    if ss.pop("goal_reseed", False) or "w.goal.on" not in ss:
        ss["w.goal.on"] = bool(current)
        if current:
            try:
                _seed_goal_widgets(Goal.parse(current))
            except SlimlibError:
                ss["w.goal.on"] = False
    on = st.toggle("Rank the configs by a goal", key="w.goal.on",
                   help="Say what you need (e.g. STS retained at least 97%, size at most 25 MB) and what to make as good "
                        "as possible; the chart marks the best config and the table says how far each one is.")
    if not on:
        state.set_goal(None)
        return None
    if "w.goal.constraints" not in ss:
        _seed_goal_widgets(default_goal(data_kind))
    cols = st.columns([3, 2])
    chosen = cols[0].multiselect("Constraints on", GOAL_METRICS, key="w.goal.constraints", format_func=_goal_name)
    constraints = []
    bound_cols = cols[0].columns(max(len(chosen), 1))
    for col, key in zip(bound_cols, chosen):
        m = METRICS[key]
        widget = f"w.goal.bound.{key}"
        ss.setdefault(widget, SUGGESTED_BOUND.get(key, 1.0))
        bound = col.number_input(f"{_goal_name(key)} {'at least' if m.direction == 'max' else 'at most'}", key=widget,
                                 min_value=0.0, step=1.0 if key in WHOLE_UNITS else 0.01,
                                 format="%.1f" if key in WHOLE_UNITS else "%.3f",
                                 help=f"{m.unit}; {m.help}.")
        constraints.append(Constraint(key, ">=" if m.direction == "max" else "<=", float(bound)))
    kind = cols[1].radio("Make as good as possible", OBJECTIVES, key="w.goal.kind", horizontal=True)
    if kind == OBJECTIVES[0]:
        ss.setdefault("w.goal.objective", "speedup")
        objective = cols[1].selectbox("Metric", GOAL_METRICS, key="w.goal.objective", format_func=_goal_name)
        goal = Goal(tuple(constraints), objective)
    else:
        ss.setdefault("w.goal.weighted", ["speedup", default_y(data_kind)])
        weighted = cols[1].multiselect("Score on", GOAL_METRICS, key="w.goal.weighted", format_func=_goal_name)
        weights = []
        for key in weighted:
            widget = f"w.goal.weight.{key}"
            ss.setdefault(widget, 1.0)
            weights.append((key, float(cols[1].number_input(f"weight of {METRICS[key].name}", key=widget, min_value=0.0,
                                                              step=0.5))))
        cols[1].caption("score = sum of weight x log(value), smaller-is-better metrics negative: 1% better on a "
                        "metric adds about weight/100.")
        goal = Goal(tuple(constraints), None, tuple(weights)) if weights else Goal(tuple(constraints), None)
    state.set_goal(goal)
    return goal


def goal_table(points: list[dict], outcome: GoalOutcome, goal: Goal) -> list[dict]:
    """One row per point: the best first, then the configs that meet the goal by score, then those
    that miss it by how far, then those the goal cannot judge (a metric not measured)."""
    def order(score):
        if score.index in outcome.ties:
            return (0, outcome.ties.index(score.index))
        if score.feasible and score.score is not None:
            return (1, -score.score)
        if score.feasible is False:
            return (2, score.distance)
        return (3, score.index)

    rows = []
    for score in sorted(outcome.scores, key=order):
        p = points[score.index]
        row = {"config": f"#{p.get('id')} {p.get('label')}", "evaluation": p.get("evaluation"),
               "goal": ("best: " if score.index == outcome.best else
                        "closest: " if score.index == outcome.closest else "") + score.status(),
               "distance": "-" if score.distance is None else f"{score.distance:.3f}",
               "score": "-" if score.score is None else f"{score.score:.4g}"}
        for key in goal.metrics():
            row[METRICS[key].name] = METRICS[key].format(p.get(key))
        rows.append(row)
    return rows


SPEED_POLL_S = 2.0  # every session polls at this rate while it waits: each poll is a script run on the server


def watch_pending_speed(entries: list[Entry]) -> None:
    """While a shown point's speed is being timed in the background, say so and redraw when it lands."""
    pending = [e for e in entries if speed_pending(e.result)]
    if not pending:
        return
    ids = [e.id for e in pending]
    # The one place that queues a shown point: what is on screen now is timed next (a point already
    # queued only moves up; one queued by an earlier server process, or never, is queued now).
    for entry in pending:
        speed_timer().submit(entry)

    @st.fragment(run_every=SPEED_POLL_S)
    def watch():
        timer = speed_timer()
        # The timer's own queue answers most polls (no history read); six sessions polling the history
        # every second kept the server's event loop so busy that the timer itself starved.
        if not timer.waiting(ids):
            store = history()
            latest = [store.get(i) for i in ids]
            if any(entry is not None and not speed_pending(entry.result) for entry in latest):
                st.rerun(scope="app")
            if timer.failed(ids):
                st.caption("Speed: the background timing failed (see the server log); "
                           "\"Run full evaluation\" measures it.")
                return
            for entry in latest:  # dropped from the queue (e.g. the server restarted): queue it again,
                if entry is not None:  # as the history holds it now
                    timer.submit(entry)
        st.caption("Speed: timing against the baseline in the background; the point's speed appears in a few seconds.")

    watch()


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
