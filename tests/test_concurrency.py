"""Six Explore sessions at once on one server process: each gets exactly what it gets alone.

AppTest runs each session's script in its own thread against the process-wide caches (the
st.cache_resource base model, the history database), which is where cross-talk would come from.
Size, parameters, STS and fidelity are deterministic, so they must match a solo run exactly; speed
is not compared (it is a timing). Peak RSS is printed for the record and bounded loosely.
"""
from __future__ import annotations

import os
import resource
import threading

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import APP, metric_values  # noqa: E402

DETERMINISTIC = ("Size", "Parameters", "Accuracy (STS x100)", "Fidelity (cosine)")
SESSIONS = [  # six different recipes, all training-free
    {},
    {"bits": 16},
    {"ffn_keep": 0.5},
    {"heads_mode": "per_layer", "heads_per_layer": 1},
    {"layers_dropped": [1]},
    {"bits": 4},
]


def run_session(model_path: str, changes: dict) -> dict:
    from ui.config import default_config

    at = AppTest.from_file(str(APP), default_timeout=900)
    at.session_state["config"] = default_config(model=model_path, **changes)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    values = metric_values(at)
    return {key: values[key] for key in DETERMINISTIC}


def test_six_concurrent_sessions_match_their_solo_runs(tiny_bert_path, tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path))
    model = str(tiny_bert_path)
    solo = [run_session(model, changes) for changes in SESSIONS]
    assert len({tuple(s.values()) for s in solo}) == len(SESSIONS), "the six recipes should differ"

    results: list = [None] * len(SESSIONS)
    errors: list = []

    def worker(index: int) -> None:
        try:
            results[index] = run_session(model, SESSIONS[index])
        except BaseException as exc:  # reported below with the session it came from
            errors.append((index, exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(SESSIONS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert results == solo
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the test process with six sessions: {peak_mb:.0f} MB")
    assert peak_mb < 8000
