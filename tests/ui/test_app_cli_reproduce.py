"""A config explored in the app reproduces its numbers through the CLI: size and accuracy exactly."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import APP  # noqa: E402


def test_app_recipe_reproduces_through_the_cli(tiny_bert_path, stsb_dev, tmp_path, monkeypatch, capsys):
    from slimlib.cli import main
    from slimlib.history import History
    from ui.config import default_config

    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(str(APP), default_timeout=900)
    config = default_config(model=str(tiny_bert_path))
    config["ops"]["drop_layers"]["dropped"] = [1]
    config["ops"]["quantize"]["bits"] = 4
    at.session_state["config"] = config
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]

    # What the app showed is what it stored; the exported recipe is the one on the page.
    app_recipe = json.loads(at.get("code")[0].value)
    assert [s["op"] for s in app_recipe["steps"]] == ["drop_layers", "quantize"]
    from ui.speed_timer import speed_timer

    assert speed_timer().wait_idle()  # the point's speed is timed in the background after it is drawn
    entry = next(e for e in History().entries() if e.recipe["steps"] == app_recipe["steps"])
    app_result = entry.result

    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps(app_recipe))
    pairs = stsb_dev  # eval --quick scores the same stratified sample the app does
    capsys.readouterr()
    assert main(["eval", str(recipe_file), "--quick", "--data", str(pairs), "--json"]) == 0
    cli_result = json.loads(capsys.readouterr().out)

    for key in ("params", "size_bytes", "sts_spearman", "fidelity_cosine", "fidelity_spearman"):
        assert cli_result["compressed"][key] == app_result["compressed"][key], key
    # The baseline folder's JSON metadata can differ by a few bytes between the two saves (seen: 13 of
    # 9 MB); its weights cannot. Known, not yet explained: see the closing note of this change.
    assert cli_result["baseline"]["size_bytes"] == pytest.approx(app_result["baseline"]["size_bytes"], abs=64)
    # Every label but speed's is the same; speed's says how this timing went, and one of two timings on a
    # busy machine may be labelled noisy (tests/workflows/test_quick_eval.py forces that with a stub clock).
    speed_labels = cli_result["labels"].pop("sentences_per_s"), app_result["labels"].pop("sentences_per_s")
    assert cli_result["labels"] == app_result["labels"]
    assert all(label.startswith(("measured", "noisy: ")) for label in speed_labels)
    # Speed is a timing: both measured it, and say how.
    assert cli_result["compressed"]["sentences_per_s"] and app_result["compressed"]["sentences_per_s"]
