"""Heads, Compare, Export and Presets pages under AppTest.

These pages only load the (cached) bundled model; history rows are written directly, so no
evaluation runs here (the Explore tests and the browser test cover evaluating).
"""
from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import PAGES, chart_spec  # noqa: E402

TIMEOUT = 600


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path))
    return tmp_path


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)


def fake_result(key: str, steps: list, size: float, sts: float, speedup: float) -> dict:
    return {
        "base_model": "all-MiniLM-L6-v2", "recipe_key": key,
        "recipe": {"format": "slimlib.recipe/v1", "base_model": "all-MiniLM-L6-v2", "steps": steps},
        "baseline": {"params": 22_713_216, "size_bytes": 90_900_000, "sentences_per_s": 280.0, "sts_spearman": 86.7},
        "compressed": {"params": int(22_713_216 * size), "size_bytes": int(90_900_000 * size), "sentences_per_s": 280.0 * speedup,
                       "sts_spearman": 86.7 * sts, "fidelity_cosine": 0.99},
        "ratios": {"speedup": speedup, "size": size, "params": size, "sts_retained": sts},
        "labels": {"size_bytes": "measured"}, "notes": [], "measurement": {"quick": True},
    }


def test_compare_shows_a_table_and_parallel_coordinates(data_dir):
    from slimlib.history import History

    store = History()
    store.add(fake_result("a", [{"op": "quantize", "bits": 8}], 0.26, 0.99, 2.5), model_hash="h", data_key="d", data_label="dev")
    store.add(fake_result("b", [{"op": "prune_ffn", "keep": 0.5}], 0.8, 0.95, 1.3), model_hash="h", data_key="d", data_label="dev")
    store.add(fake_result("c", [{"op": "drop_layers", "keep": 3}], 0.77, 0.9, 1.8), model_hash="h", data_key="d", data_label="dev")
    at = page("2_Compare.py")
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 2 and list(table["size"]) == [0.8, 0.77]
    spec = chart_spec(at)
    assert spec["data"][0]["type"] == "parcoords"
    at.multiselect(key="compare.ids").set_value([1, 2, 3]).run()
    assert len(at.dataframe[0].value) == 3
    assert len(chart_spec(at)["data"][0]["dimensions"][0]["values"]) == 3


def test_compare_with_an_empty_history_explains_itself(data_dir):
    at = page("2_Compare.py")
    at.run()
    assert not at.exception
    assert "Evaluate at least two configs" in at.info[0].value


def test_export_offers_recipe_commands_and_a_link(data_dir):
    at = page("3_Export.py")
    from ui.config import default_config

    config = default_config()
    config["ops"]["quantize"]["bits"] = 8
    config["ops"]["prune_heads"].update(mode="per_layer", per_layer=2)
    at.session_state["config"] = config
    at.run()
    assert not at.exception, at.exception
    recipe = json.loads(at.code[0].value)
    assert recipe["format"] == "slimlib.recipe/v1"
    assert [s["op"] for s in recipe["steps"]] == ["prune_heads", "quantize"]
    assert "python -m slimlib apply recipe.json --out" in at.code[1].value
    assert "--json" in at.code[1].value
    link = at.code[2].value
    assert "?cfg=" in link
    from ui.config import decode_recipe

    assert decode_recipe(link.split("cfg=", 1)[1]).to_dict() == recipe
    assert any("recipe.json" in b.label for b in at.get("download_button"))


def test_heads_page_draws_importance_and_parameter_maps(data_dir):
    at = page("1_Heads.py")
    at.session_state["heads.method"] = "magnitude"
    at.run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    heads = json.loads(charts[0].proto.spec)["data"][0]
    assert len(heads["x"]) == 6 * 12
    assert "x" not in heads["marker"]["symbol"]  # nothing removed yet
    assert json.loads(charts[1].proto.spec)["data"][0]["type"] == "treemap"

    config = dict(at.session_state["config"])
    config["ops"] = {**config["ops"], "prune_heads": {**config["ops"]["prune_heads"], "mode": "explicit",
                                                      "heads": {"0": [1, 2], "3": [5]}}}
    at.session_state["config"] = config
    at.run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    symbols = json.loads(charts[0].proto.spec)["data"][0]["marker"]["symbol"]
    assert [i for i, s in enumerate(symbols) if s == "x"] == [1, 2, 3 * 12 + 5]
    after = json.loads(charts[2].proto.spec)["data"][0]
    before = json.loads(charts[1].proto.spec)["data"][0]
    assert after["values"][0] < before["values"][0]  # the model root shrank


def test_presets_list_claims_and_open_in_explore(data_dir):
    at = page("4_Presets.py")
    at.run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "4x smaller" in text and "Half the layers" in " ".join(h.value for h in at.subheader)

