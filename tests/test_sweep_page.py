"""The Search page reads the study store; the background search process stops cleanly and resumes."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from slimlib.sweep import store
from slimlib.sweep.background import SearchProcess, search_command, write_space
from slimlib.sweep.frontier import points

ROOT = Path(__file__).resolve().parents[1]


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
