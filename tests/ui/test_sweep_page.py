"""The Search page reads the study store; the background search process stops cleanly and resumes."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from slimlib.sweep import store
from slimlib.sweep.background import SearchProcess, search_command, write_space
from slimlib.sweep.frontier import points

ROOT = Path(__file__).resolve().parents[2]


def fake_study(name: str) -> None:
    """A stored search with three measured trials (two on the front) and one failed recipe."""
    import optuna

    study = store.open_study(name, {"kind": "search", "objectives": ["size:min", "fidelity:max"],
                                    "base_model": "all-MiniLM-L6-v2", "data": None, "quick": True, "space": {}},
                             ["minimize", "maximize"])
    for size, fidelity, bits in ((90e6, 1.0, 32), (23e6, 0.99, 8), (50e6, 0.9, 16)):
        recipe = {"format": "slimlib.recipe/v1", "base_model": "all-MiniLM-L6-v2",
                  "steps": [{"op": "quantize", "bits": bits}]}
        study.add_trial(optuna.create_trial(values=[size, fidelity], user_attrs={
            "recipe": recipe, "settings": {"quantize.bits": bits}, "worker_pid": 1,
            "result": {"compressed": {"size_bytes": size, "fidelity_cosine": fidelity, "params": 1},
                       "ratios": {"size": size / 90e6, "speedup": 1.0}}}))
    study.add_trial(optuna.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"error": "steps[0].rank: too big"}))


def test_frontier_points_mark_the_front_and_skip_failures():
    fake_study("points")
    _meta, rows, front = store.study_rows("points")
    assert front == {0, 1}
    pts = points(rows, front)
    assert [(p["trial"], p["on_front"], p["size_mb"]) for p in pts] == [(0, True, 90.0), (1, True, 23.0), (2, False, 50.0)]


def test_search_page_draws_the_front_and_opens_a_trial_in_explore(minilm):
    from streamlit.testing.v1 import AppTest

    fake_study("page")
    # Started from the app's entrypoint so that "Open in Explore" can switch pages.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.switch_page("pages/6_Search.py")
    at.session_state["search.study"] = "page"
    at.run()
    assert not at.exception, at.exception
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    front = next(t for t in chart["data"] if t["name"] == "Pareto front")
    assert sorted(front["x"]) == [23.0, 90.0]
    assert any("3 measured, 1 failed, 2 on the Pareto front" in c.value for c in at.caption)
    at.selectbox(key="search.trial").set_value(1)
    at.button(key="search.open").click().run()
    assert not at.exception, at.exception
    assert at.session_state["config"]["ops"]["quantize"]["bits"] == 8  # Explore's controls now describe trial #1's recipe


def test_background_search_stops_on_request_and_the_cli_resumes_it(tiny_bert_path, tmp_path, capsys):
    from slimlib.cli import main
    key = "low_rank.rank"
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    space = write_space("bg", str(tiny_bert_path), {key: [0, 16, 8]})
    command = search_command("bg", space, 3, "size,fidelity", engine="inline", storage=url)
    proc = SearchProcess("bg", command)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and proc.running:
            if any(r["state"] == "COMPLETE" for r in _rows_or_empty("bg", url)):
                break
            time.sleep(1)
        proc.stop()
        proc.proc.wait(timeout=300)
    finally:
        proc.kill()
    rows = _rows_or_empty("bg", url)
    done = sum(r["state"] == "COMPLETE" for r in rows)
    # 130: stopped by the driver's handler; -SIGINT: the stop landed after the last trial, once the
    # handler was gone (on a fast machine all three trials can finish first). Either way nothing is lost.
    assert proc.returncode in (0, 130, -signal.SIGINT), proc.log_tail(20)
    assert 1 <= done <= 3
    assert main(["search", "--study", "bg", "--space", str(space), "--n-trials", "3", "--objectives", "size,fidelity",
                 "--engine", "inline", "--storage", url]) == 0
    assert sum(r["state"] == "COMPLETE" for r in _rows_or_empty("bg", url)) == 3
    assert "study bg:" in capsys.readouterr().err


def _rows_or_empty(name: str, url: str) -> list[dict]:
    try:
        return store.study_rows(name, url)[1]
    except Exception:  # the subprocess has not created the study yet
        return []


FAKE_SEARCH = '''
import signal, sys, time

def stop(*_):
    # What a real local-engine search prints when stopped: the driver's line, then the tracker's warning.
    print("slimlib: interrupted: 1 trial(s) in flight re-queued; run the same study to resume", file=sys.stderr)
    print("/usr/lib/python3.11/multiprocessing/resource_tracker.py:254: UserWarning: resource_tracker: "
          "There appear to be 2 leaked semaphore objects to clean up at shutdown", file=sys.stderr)
    print("  warnings.warn('resource_tracker: There appear to be %d '", file=sys.stderr, flush=True)
    sys.exit(130)

signal.signal(signal.SIGINT, stop)
print("slimlib: study stopme: 0 of 30 trials already finished", file=sys.stderr, flush=True)
while True:
    time.sleep(0.1)
'''


def test_stop_on_the_search_page_reads_stopped_and_enables_start_again(tiny_bert_path, tmp_path):
    import sys

    from streamlit.testing.v1 import AppTest
    from ui.config import default_config

    script = tmp_path / "fake_search.py"
    script.write_text(FAKE_SEARCH)
    proc = SearchProcess("stopme", [sys.executable, str(script)])
    try:
        deadline = time.time() + 60
        while "study stopme" not in " ".join(proc.log_tail()) and time.time() < deadline:
            time.sleep(0.2)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.session_state["config"] = default_config(model=str(tiny_bert_path))
        at.switch_page("pages/6_Search.py")
        at.session_state["search.proc"] = proc
        at.session_state["search.study"] = "stopme"
        at.run()
        assert not at.exception, at.exception
        assert at.button(key="search.start").disabled  # a search is running
        at.button(key="search.stop").click().run()
        assert not at.exception, at.exception
        assert proc.state == "stopped" and proc.returncode == 130
        texts = [e.value for kind in ("info", "warning", "error", "success", "caption") for e in at.get(kind)]
        assert any(t.startswith("Search stopped.") for t in texts), texts
        assert not any("exit code" in t or "resource_tracker" in t or "failed" in t.lower() for t in texts), texts
        assert not at.button(key="search.start").disabled  # Start is usable again right after the stop
        at.run()  # and stays so on the next refresh, still saying "stopped", not failed
        assert not at.button(key="search.start").disabled
        assert any(i.value.startswith("Search stopped.") for i in at.info) and not at.warning
    finally:
        proc.kill()


def test_a_search_that_fails_on_its_own_is_reported_with_its_log_but_no_library_noise(tmp_path):
    import sys

    script = tmp_path / "crash.py"
    script.write_text("import sys\nprint('UserWarning: resource_tracker: leaked', file=sys.stderr)\n"
                      "print('slimlib: error: --storage x: cannot open the study store', file=sys.stderr)\nsys.exit(2)\n")
    proc = SearchProcess("crash", [sys.executable, str(script)])
    proc.proc.wait(timeout=60)
    assert proc.state == "failed"
    assert proc.log_tail(3) == ["slimlib: error: --storage x: cannot open the study store"]
    proc.kill()


LEAKY = "import multiprocessing, os\nlock = multiprocessing.get_context(\"spawn\").Lock()\nos._exit(130)\n"


def test_the_search_process_does_not_log_the_resource_trackers_leak_warning(tmp_path):
    """A stopped local cluster leaves worker semaphores to the tracker, which warns at exit: not for users."""
    import subprocess
    import sys

    script = tmp_path / "leaky.py"
    script.write_text(LEAKY)
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert "resource_tracker" in plain.stderr  # what users saw in the Search page's message
    proc = SearchProcess("leaky", [sys.executable, str(script)])
    proc.proc.wait(timeout=60)
    time.sleep(1)  # the tracker writes after its parent is gone
    proc.kill()
    assert "resource_tracker" not in proc.log_path.read_text()


def test_search_trials_are_measured_like_explores_quick_evaluations(tiny_bert_path, monkeypatch):
    """Same definition (quick: paired speed, stratified STS) and, one trial at a time, Explore's threads."""
    import torch
    from streamlit.testing.v1 import AppTest

    import slimlib.sweep.background as background
    from slimlib.sweep.driver import RunConfig
    from slimlib.sweep.objectives import parse_objectives
    from slimlib.workflows.evaluate import EvalOptions
    from ui.config import default_config
    from ui.evaluation import STSB_DEV, DataChoice

    started = []

    class Recorder:
        def __init__(self, study, command):
            self.study, self.command, self.started = study, command, time.time()
            self.stop_requested = None
            started.append(command)

        running = False
        returncode = None
        state = "finished"

        def log_tail(self, lines=8):
            return []

    monkeypatch.setattr(background, "SearchProcess", Recorder)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["config"] = default_config(model=str(tiny_bert_path))
    at.switch_page("pages/6_Search.py")
    at.run()
    assert not at.exception, at.exception
    at.button(key="search.start").click().run()
    assert not at.exception, at.exception
    command = started[0]
    assert "--full" not in command  # quick, as Explore's live points
    assert command[command.index("--threads-per-worker") + 1] == str(torch.get_num_threads())
    assert command[command.index("--workers") + 1] == "1"

    # A trial's evaluation options are Explore's quick ones, but for the worker's thread count.
    trial = EvalOptions(**RunConfig("s", parse_objectives("size", False), data=str(STSB_DEV)).eval_options(threads=2))
    explore = DataChoice(str(STSB_DEV), "dev", "d").options(quick=True)
    explore.threads = 2
    assert trial == explore
