"""The Explore page under AppTest: it loads the bundled MiniLM, evaluates quickly and redraws.

Each quick evaluation takes a few seconds on 2 cores, so the tests share one AppTest session and
keep to a handful of evaluations. Ops not registered in this build are expected to be disabled.
"""
from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import APP, chart_spec, config_points, metric_values  # noqa: E402

TIMEOUT = float(os.environ.get("SLIMLIB_APPTEST_TIMEOUT_S", "600"))  # first run loads the model


@pytest.fixture(scope="module", params=["tiny", "minilm"])
def explore(request, tmp_path_factory, stsb_dev):
    """The Explore page on a tiny random BERT (fast) and on the bundled MiniLM (the real thing)."""
    os.environ["SLIMLIB_DATA_DIR"] = str(tmp_path_factory.mktemp("app-data"))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if request.param == "tiny":
        from ui.config import default_config

        at.session_state["config"] = default_config(model=str(request.getfixturevalue("tiny_bert_path")))
    at.run()
    assert not at.exception, at.exception
    return at


def test_first_run_shows_baseline_metrics_and_chart(explore):
    at = explore
    assert not at.error, [e.value for e in at.error]
    values = metric_values(at)
    assert values["Size"].endswith("MB")
    assert values["Fidelity (cosine)"] == "1.0000"
    assert values["Accuracy (STS x100)"] != "n/a"
    spec = chart_spec(at)
    names = [trace.get("name") for trace in spec["data"]]
    assert "baseline (measured here)" in names
    assert "published, not measured here" in names
    # Whether int8 / bf16 pay depends on the CPU: the quantization controls say what this one has.
    assert any(c.value.startswith("This CPU (") for c in at.sidebar.caption)


def test_changing_a_control_adds_a_point_and_changes_the_metrics(explore):
    at = explore
    op, widget, value = "prune_ffn", "w.prune_ffn.keep", 0.5
    before_points = config_points(chart_spec(at))
    before_metrics = metric_values(at)
    element = next(e for e in at.sidebar.get("select_slider") + at.sidebar.get("slider") + at.sidebar.get("selectbox")
                   if e.key == widget)
    element.set_value(value).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    after_points = config_points(chart_spec(at))
    assert len(after_points) == len(before_points) + 1
    assert metric_values(at) != before_metrics
    recipe = json.loads(at.get("code")[0].value)
    assert recipe["steps"][0]["op"] == op
    assert "cfg" in at.query_params


def test_bad_pair_file_path_shows_one_line_error(explore, tmp_path):
    at = explore
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    at.sidebar.radio(key="w.data_mode").set_value("a pair file path").run()
    at.sidebar.text_input(key="w.data_path").input(str(bad)).run()
    assert not at.exception
    messages = [e.value for e in at.error]
    assert any("unknown columns" in m for m in messages), messages
    at.sidebar.text_input(key="w.data_path").input(str(tmp_path / "missing.csv")).run()
    assert any("pair file not found" in e.value for e in at.error)
    at.sidebar.radio(key="w.data_mode").set_value("STS Benchmark dev (shared data folder)").run()
