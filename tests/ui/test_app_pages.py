"""The pages under AppTest: Heads, Compare, Export, Presets, the navigation, shared links and goals,
Interactions and Present.

Heads, Compare, Export and Presets only load the (cached) bundled model and read history rows
written directly. The tests from "The navigation" on run on the tiny random BERT without a pair
file, so their few real evaluations take seconds.
"""
from __future__ import annotations

import json

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import PAGES, chart_spec, metric_values  # noqa: E402

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
    from slimlib.report.result import METRICS

    table = at.dataframe[0].value
    assert len(table) == 2 and list(table[METRICS["size"].label]) == ["0.800", "0.770"]
    spec = chart_spec(at)
    assert spec["data"][0]["type"] == "parcoords"
    at.multiselect(key="compare.ids").set_value([1, 2, 3]).run()
    assert len(at.dataframe[0].value) == 3
    assert len(chart_spec(at)["data"][0]["dimensions"][0]["values"]) == 3


def test_compare_names_each_line_and_never_shows_none(data_dir):
    from slimlib.history import History

    store = History()
    store.add(fake_result("a", [{"op": "quantize", "bits": 8}], 0.26, 0.99, 2.5), model_hash="h", data_key="d", data_label="dev")
    unmeasured = fake_result("b", [{"op": "quantize", "bits": 4}], 0.15, 0.95, 1.0)
    unmeasured["compressed"].update(sentences_per_s=None, sts_spearman=None)
    unmeasured["ratios"].update(speedup=None, sts_retained=None)
    store.add(unmeasured, model_hash="h", data_key="d", data_label="dev")
    at = page("2_Compare.py")
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    cells = [str(v) for row in table.itertuples(index=False) for v in row]
    assert "None" not in cells and "nan" not in cells and "not measured" in cells
    spec = chart_spec(at)
    line = spec["data"][0]["line"]
    assert line["showscale"] and line["colorbar"]["ticktext"] == ["#1 8-bit", "#2 4-bit"]
    assert "None" not in json.dumps(spec)


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



# The navigation, shared links, goals, Interactions and Present ------------------------------------
from app_helpers import APP  # noqa: E402

NO_PAIRS = {"mode": "none (fidelity only)", "path": "", "upload": None}


def explore_app(config=None, query=None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if config is not None:
        at.session_state["config"] = config
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def tiny_config(tiny_bert_path, **ops):
    from ui.config import default_config

    config = default_config(model=str(tiny_bert_path))
    for op, values in ops.items():
        config["ops"][op].update(values)
    return config


def test_navigation_calls_the_landing_page_explore_and_keeps_every_page(data_dir, tiny_bert_path):
    at = explore_app(tiny_config(tiny_bert_path))
    at.session_state["data.saved"] = dict(NO_PAIRS)
    at.run()
    assert not at.exception, at.exception
    # AppTest has no public view of the menu: its page registry is what the browser's menu shows.
    pages = list(at._registered_pages.values())
    assert pages[0]["page_name"] == "Explore" and pages[0]["url_pathname"] == ""
    assert "app" not in [p["page_name"] for p in pages]
    files = sorted(p.name for p in PAGES.glob("*.py"))
    assert len(pages) == 1 + len(files)
    assert {"Heads", "Compare", "Export", "Presets", "Interactions", "Present"} <= {p["url_pathname"] for p in pages}
    assert at.title[0].value == "Explore"
    assert any("What am I looking at?" in m.value for m in at.markdown)


def test_the_export_link_opens_explore_with_the_controls_and_the_goal(data_dir, tiny_bert_path):
    from urllib.parse import parse_qs, urlsplit

    at = explore_app(tiny_config(tiny_bert_path, quantize={"bits": 8}))
    at.session_state["goal"] = "fidelity>=0.9;min:size"
    at.switch_page("pages/3_Export.py")
    at.run()
    assert not at.exception, at.exception
    link = next(c.value for c in at.code if "cfg=" in c.value)
    parts = urlsplit(link)
    assert parts.path == "/"  # the root is the Explore page, whichever page the link was copied on
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["goal"] == "fidelity>=0.9;min:size"

    opened = explore_app(query=query)  # a new session opening the link
    opened.session_state["data.saved"] = dict(NO_PAIRS)
    opened.run()
    assert not opened.exception, opened.exception
    assert opened.title[0].value == "Explore"
    assert opened.session_state["config"]["ops"]["quantize"]["bits"] == 8
    assert opened.session_state["config"]["model"] == str(tiny_bert_path)
    # The link's model is loaded on the first run (not the default model with the link's steps).
    assert any(c.value.startswith(f"{tiny_bert_path}: 3 layers x 4 heads") for c in opened.caption), \
        [c.value for c in opened.caption]
    assert metric_values(opened)["Parameters"].endswith(" M") and float(metric_values(opened)["Parameters"][:-2]) < 3
    assert opened.session_state["goal"] == "fidelity>=0.9;min:size"
    assert opened.toggle(key="w.goal.on").value is True


def test_a_goal_on_explore_marks_the_best_config_and_rides_in_the_link(data_dir, tiny_bert_path):
    from slimlib.ops.recipe import Recipe, make_step
    from ui.config import encode_recipe

    recipe = Recipe(str(tiny_bert_path), [make_step("prune_ffn", keep=0.5)])
    at = explore_app(query={"cfg": encode_recipe(recipe), "goal": "fidelity>=0.5;min:size"})
    at.session_state["data.saved"] = dict(NO_PAIRS)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    # No pair file: the y axis falls back to fidelity and says so.
    assert any("fidelity" in i.value for i in at.info)
    spec = chart_spec(at)
    traces = {t["name"]: t for t in spec["data"]}
    assert spec["layout"]["yaxis"]["title"]["text"].startswith("Fidelity")
    best = traces["best for your goal"]["customdata"][0][0]
    current = traces["current config"]["customdata"][0][0]
    assert best == current  # the pruned config is smaller than the baseline at fidelity >= 0.5
    assert any("Best for your goal" in s.value for s in at.success)
    table = at.dataframe[-1].value
    assert len(table) == 2 and table["goal"].iloc[0].startswith("best:")
    assert at.query_params["goal"] in ("fidelity>=0.5;min:size", ["fidelity>=0.5;min:size"])


def test_interactions_grid_evaluates_in_the_background_and_resumes(data_dir, tiny_bert_path):
    from slimlib.history import History

    at = page("5_Interactions.py")
    at.session_state["config"] = tiny_config(tiny_bert_path)
    at.session_state["data.saved"] = dict(NO_PAIRS)
    at.session_state["inter.a"] = "prune_ffn.keep"
    at.session_state["inter.b"] = "quantize.bits"
    at.session_state["inter.metric"] = "fidelity"
    at.session_state["inter.a_values.prune_ffn.keep"] = [0.5]
    at.session_state["inter.b_values.quantize.bits"] = [8]
    at.run()
    assert not at.exception, at.exception
    assert not at.get("plotly_chart") and any("Nothing measured" in i.value for i in at.info)
    assert at.button(key="inter.run").label.startswith("Evaluate the grid (4 of 4 left)")
    # A cell measured elsewhere (Explore evaluates the baseline first) is picked up, not recomputed.
    from slimlib.ops.recipe import Recipe
    from ui.evaluation import NO_DATA, evaluate_and_store

    evaluate_and_store(Recipe(str(tiny_bert_path), []), NO_DATA, True, use_streamlit_cache=False)
    at.run()
    assert at.button(key="inter.run").label.startswith("Evaluate the grid (3 of 4 left)")
    at.button(key="inter.run").click().run()
    job = at.session_state["job"]
    assert job.wait(TIMEOUT) and job.error is None and job.result == 3
    at.run()
    at.run()  # the job panel reports and reruns once; then the page reads the history
    assert not at.exception, at.exception
    heatmaps = [json.loads(c.proto.spec)["data"][0] for c in at.get("plotly_chart")]
    assert len(heatmaps) == 3 and all(h["type"] == "heatmap" for h in heatmaps)
    measured, predicted, difference = heatmaps
    assert "-" not in sum(measured["text"], [])
    z = measured["z"]
    assert z[0][0] == pytest.approx(1.0)
    assert predicted["z"][1][1] == pytest.approx(z[1][0] * z[0][1] / z[0][0])
    assert difference["z"][1][1] == pytest.approx(z[1][1] - predicted["z"][1][1])
    assert len(History().entries()) == 4
    assert not [b for b in at.button if b.key == "inter.run"]  # nothing left to evaluate: resumable, no recompute


def test_present_shows_the_config_its_numbers_the_goal_and_the_claims(data_dir, tiny_bert_path):
    from slimlib.ops.recipe import Recipe, make_step
    from ui.evaluation import NO_DATA, evaluate_and_store

    recipe = Recipe(str(tiny_bert_path), [make_step("prune_ffn", keep=0.5)])
    evaluate_and_store(Recipe(str(tiny_bert_path), []), NO_DATA, True, use_streamlit_cache=False)
    evaluate_and_store(recipe, NO_DATA, True, use_streamlit_cache=False)
    at = page("7_Present.py")
    at.session_state["config"] = tiny_config(tiny_bert_path, prune_ffn={"keep": 0.5})
    at.session_state["data.saved"] = dict(NO_PAIRS)
    at.session_state["goal"] = "fidelity>=0.5;min:size"
    at.run()
    assert not at.exception, at.exception
    assert "FFN 50%" in at.title[0].value
    html = " ".join(m.value for m in at.markdown)
    assert "<table>" in html and "sentences / s" in html and "Fidelity" in html
    assert "@media print" in html
    assert "Fidelity at least" in html and "Best:" in html
    from slimlib.report.presets import PRESETS

    assert html.count("not replayed yet") == len(PRESETS)  # every preset claim, with what it needs
    assert any("How measured" in c.value for c in at.caption)
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert any("HTML report" in b.label for b in at.get("download_button"))


def test_the_first_edit_after_opening_a_link_is_not_undone_by_the_links_own_restore(data_dir, tiny_bert_path, tmp_path):
    """Opening a link restores its recipe after the model picker has drawn; that restore must not make
    the next run reseed the picker, or the user's first typed folder is silently replaced by the link's."""
    from slimlib.ops.recipe import Recipe
    from ui.config import encode_recipe

    at = explore_app(query={"cfg": encode_recipe(Recipe(str(tiny_bert_path), []))})
    at.session_state["data.saved"] = dict(NO_PAIRS)
    at.run()
    assert not at.exception, at.exception
    assert at.text_input(key="w.model_text").value == str(tiny_bert_path)
    missing = str(tmp_path / "no-such-model")
    at.text_input(key="w.model_text").set_value(missing).run()
    assert not at.exception, at.exception
    assert at.text_input(key="w.model_text").value == missing
    errors = [e.value for e in at.error]
    assert any(f"{missing}: folder not found" in e and f"still showing {tiny_bert_path}" in e for e in errors), errors
