"""Control-to-chart latency of the Explore page, driven through Streamlit's AppTest (in process).

Each timed step changes one control to a value not evaluated before (a cache miss: apply the
recipe, quick evaluation, store in the history, redraw the chart) and measures until the script
run finishes with the new point in the figure JSON. The browser's own rendering is not included
(tests/test_browser.py covers the real browser). History goes to a temp folder.

Run: .venv/bin/python benchmarks/bench_app_latency.py [--model all-mpnet-base-v2] [--data cranfield]
(--data cranfield picks the built-in Cranfield retrieval folder in the data picker first, so every
point is a quick retrieval evaluation: nDCG@10 on the fixed stratified cut, data.retrieval.quick_subset)
(another model is picked in the page's model radio after the first load, as a user would; the temp
data folder links the installed named models, so `make mpnet` first.)
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (op that must be registered, widget key, values) - training-free changes only.
STEPS = (
    ("quantize", "w.quantize.bits", [16, 8, 4]),
    ("prune_ffn", "w.prune_ffn.keep", [0.75, 0.5, 0.25]),
    ("prune_heads", "w.prune_heads.mode", ["per_layer"]),
    ("prune_heads", "w.prune_heads.per_layer", [3, 4]),
)


def _points(at) -> int:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return sum(len(t.get("x", [])) for t in spec["data"] if t.get("name") in ("frontier configs", "dominated configs",
                                                                              "baseline (measured here)"))


def _widget(at, key):
    for kind in ("select_slider", "slider", "selectbox"):
        for element in at.sidebar.get(kind):
            if element.key == key:
                return element
    return None


def _temp_data_dir() -> str:
    """A fresh data folder (empty history and caches) that still sees the installed named models."""
    from slimlib.paths import data_dir

    installed = data_dir() / "models"
    folder = Path(tempfile.mkdtemp(prefix="slimlib-bench-app-"))
    if installed.is_dir():
        (folder / "models").symlink_to(installed, target_is_directory=True)
    return str(folder)


def _option(argv: list[str] | None, name: str) -> str | None:
    argv = list(argv or [])
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def main(argv: list[str] | None = None) -> list[dict]:
    model = _option(argv, "--model")
    data = _option(argv, "--data")
    os.environ.setdefault("SLIMLIB_DATA_DIR", _temp_data_dir())
    # Not forced: one AppTest session is alone on its "server", so the app's default applies (speed timed
    # in the background); SLIMLIB_BACKGROUND_SPEED=0 measures in-call timing, as with several sessions.
    os.chdir(ROOT)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    rows = [{"change": "first load (model + baseline)", "seconds": round(first, 2), "new point": True}]
    if model:
        picker = next((r for r in at.sidebar.radio if r.key == "w.model_source"), None)
        if picker is None or model not in picker.options:
            raise SystemExit(f"--model: {model!r} is not offered by the model picker (installed: "
                             f"{picker.options if picker else '?'}); `make mpnet` installs all-mpnet-base-v2")
        start = time.perf_counter()
        picker.set_value(model).run()
        rows.append({"change": f"switch to {model} (load + baseline)", "seconds": round(time.perf_counter() - start, 2),
                     "new point": True, "error": "; ".join(e.value for e in at.error) or None})
    if data:
        from ui.controls import CRANFIELD_MODE

        if data != "cranfield":
            raise SystemExit("--data: only 'cranfield' (the shared Cranfield folder) is offered by this benchmark")
        picker = next((r for r in at.sidebar.radio if r.key == "w.data_mode"), None)
        if picker is None or CRANFIELD_MODE not in picker.options:
            raise SystemExit("--data cranfield: the data picker does not offer the Cranfield folder (../shared/data/cranfield)")
        start = time.perf_counter()
        picker.set_value(CRANFIELD_MODE).run()
        rows.append({"change": "data = Cranfield (baseline on the quick cut; its corpus embeddings cached on disk)",
                     "seconds": round(time.perf_counter() - start, 2), "new point": True,
                     "error": "; ".join(e.value for e in at.error) or None})
    skip = 1 + bool(model) + bool(data)  # the loads and switches are not control changes
    for op, key, values in STEPS:
        for value in values:
            element = _widget(at, key)
            if element is None or element.disabled:
                continue
            before = _points(at)
            start = time.perf_counter()
            element.set_value(value).run()
            seconds = time.perf_counter() - start
            rows.append({"change": f"{key} = {value}", "seconds": round(seconds, 2), "new point": _points(at) > before,
                         "error": "; ".join(e.value for e in at.error) or None})
    # The points land with their speed pending; the process's speed timer measures them in the background
    # (ui/speed_timer.py), the newest (the one on screen) first. How long the last point's speed takes to
    # land, and how long the whole queue (every earlier point still waiting) takes to drain:
    from slimlib.history import History
    from slimlib.workflows.evaluate import speed_pending
    from ui.speed_timer import speed_timer

    last = History().entries()[-1]
    start = time.perf_counter()
    speed_landed = drained = None
    while time.perf_counter() - start < 300 and (speed_landed is None or drained is None):
        if speed_landed is None and not speed_pending(History().get(last.id).result):
            speed_landed = time.perf_counter() - start
        if drained is None and not speed_timer().busy():
            drained = time.perf_counter() - start
        time.sleep(0.1)
    timed = [r["seconds"] for r in rows[skip:] if r["seconds"] is not None and r["new point"]]
    print(f"\n## app_latency ({model or 'the default model'}{', Cranfield retrieval' if data else ''}): control change -> new point on the chart "
          "(AppTest-driven, quick evaluation)\n")
    print("| change | seconds | new point |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['change']} | {r['seconds'] if r['seconds'] is not None else 'n/a'} | {'yes' if r['new point'] else 'no'} |"
              + (f" error: {r['error']}" if r.get("error") else ""))
    def seconds(value):
        return f"{value:.1f} s" if value is not None else "not within 300 s"

    print(f"\nthe last point's speed (timed in the background) landed {seconds(speed_landed)} after its point; "
          f"the timer's queue (earlier points too) drained after {seconds(drained)}")
    if timed:
        print(f"\nmedian control-to-chart latency: {statistics.median(timed):.2f} s over {len(timed)} changes "
              f"(target: 3 s on an idle 2-core machine)")
    return rows


def run() -> list[dict]:
    return main()


if __name__ == "__main__":
    main(sys.argv[1:])
