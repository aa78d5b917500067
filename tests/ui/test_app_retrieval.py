"""Retrieval data in the app (AppTest, tiny random BERT): a BEIR folder typed as a path or uploaded as a
.zip becomes the evaluation data (its label says queries and documents), the Explore cards show nDCG@10
with its 95% interval, the trade-off chart's y axis is nDCG@10 retained with error bars, and every
malformed folder or zip shows exactly one st.error line naming the file while the previous choice stays.

The BEIR folders are made in tmp_path (tests/beir_data.py); nothing from /work/shared is copied.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import APP, chart_spec, metric_values  # noqa: E402
from beir_data import write_beir  # noqa: E402

TIMEOUT = float(os.environ.get("SLIMLIB_APPTEST_TIMEOUT_S", "600"))
PATH_MODE, UPLOAD_MODE = "a pair file path", "upload a pair file"


def start(model_path: Path, mode: str, path: str = "", compressed: bool = True) -> AppTest:
    """Explore on the tiny model with this data choice; `compressed`: one layer of two kept (a config point,
    which carries intervals; the baseline's ratios are 1 by definition). On the tiny set that config ranks
    almost as the baseline does: a non-zero interval that the verdict calls within noise."""
    from ui.config import default_config

    config = default_config(model=str(model_path))
    if compressed:
        config["ops"]["drop_layers"] = {"mode": "keep", "dropped": [], "keep": 1}
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["config"] = config
    at.session_state["data.saved"] = {"mode": mode, "path": path, "upload": None}
    at.run()
    assert not at.exception, at.exception
    return at


def captions(at) -> list[str]:
    return [c.value for c in at.get("caption")]


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def zipped(folder: Path, top: str | None = "beir") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                zf.write(path, f"{top}/{rel}" if top else rel)
    return buffer.getvalue()


# Each malformed folder, the file its one error line must name and a phrase of what it says.
def _missing_qrels(folder: Path) -> None:
    (folder / "qrels" / "test.tsv").unlink()


def _bad_json(folder: Path) -> None:
    lines = (folder / "corpus.jsonl").read_text().splitlines()
    lines[1] = '{"_id": "wing-1", "text": "unterminated'
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")


def _unknown_doc(folder: Path) -> None:
    with open(folder / "qrels" / "test.tsv", "a") as handle:
        handle.write("q1\tno-such-doc\t1\n")


def _empty_corpus(folder: Path) -> None:
    (folder / "corpus.jsonl").write_text("")


BAD_FOLDERS = {
    "missing-qrels": (_missing_qrels, "qrels/test.tsv", "missing"),
    "bad-json": (_bad_json, "corpus.jsonl", "line 2"),
    "unknown-doc": (_unknown_doc, "qrels/test.tsv", "no-such-doc"),
    "empty-corpus": (_empty_corpus, "corpus.jsonl", "empty"),
}


def test_a_retrieval_folder_gives_ndcg_cards_an_ndcg_axis_with_error_bars_and_bad_folders_one_error(
        tiny_bert_path, tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    good = write_beir(tmp_path / "good")
    at = start(tiny_bert_path, PATH_MODE, str(good))
    assert not errors(at), errors(at)
    assert any("Evaluation data: good (3 queries, 9 documents)" in c for c in captions(at)), captions(at)

    cards = metric_values(at)
    assert "Retrieval (nDCG@10)" in cards and "Accuracy (STS x100)" not in cards, cards
    accuracy_caption = next(c for c in at.main.get("caption") if "95% CI" in c.value).value
    assert accuracy_caption.startswith("measured; 95% CI ") and "within noise" in accuracy_caption, accuracy_caption

    assert at.radio(key="view.y").value == "ndcg_retained"
    spec = chart_spec(at)
    title = spec["layout"]["yaxis"]["title"]["text"]
    assert title.startswith("nDCG@10 retained"), title
    configs = [t for t in spec["data"] if t.get("name") in ("frontier configs", "dominated configs")]
    assert configs, [t.get("name") for t in spec["data"]]
    bars = configs[0]["error_y"]
    assert bars["type"] == "data" and bars["visible"] and len(bars["array"]) == len(configs[0]["y"])
    assert all(v is not None and v >= 0 for v in bars["array"] + bars["arrayminus"])
    assert any(a + b > 0 for a, b in zip(bars["array"], bars["arrayminus"]))  # an interval, not a dot
    assert "error_y" not in next(t for t in spec["data"] if t.get("name") == "baseline (measured here)")

    # Each malformed folder: one error line naming the file; the evaluations keep the good folder.
    for case, (damage, file_name, phrase) in BAD_FOLDERS.items():
        bad = write_beir(tmp_path / case)
        damage(bad)
        at.sidebar.text_input(key="w.data_path").input(str(bad)).run()
        assert not at.exception, (case, at.exception)
        found = errors(at)
        assert len(found) == 1, (case, found)
        assert f"{case}/{file_name}" in found[0] and phrase in found[0], (case, found)
        assert "\n" not in found[0] and "Traceback" not in found[0], (case, found)
        assert any("Evaluation data: good (3 queries, 9 documents)" in c for c in captions(at)), (case, captions(at))
        assert any("Still evaluating on the previous data: good" in c for c in captions(at)), (case, captions(at))


def test_an_uploaded_zip_is_unpacked_once_and_a_bad_zip_shows_one_error(tiny_bert_path, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(data_dir))
    folder = write_beir(tmp_path / "beir")
    at = start(tiny_bert_path, UPLOAD_MODE, compressed=False)  # the baseline only: fewer evaluations
    assert "No file yet: fidelity only." in captions(at)

    at.sidebar.file_uploader(key="w.data_upload").upload("my set.zip", zipped(folder), "application/zip").run()
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    assert any("Evaluation data: my set (3 queries, 9 documents)" in c for c in captions(at)), captions(at)
    uploads = [p for p in (data_dir / "uploads").iterdir()]
    assert len(uploads) == 1 and uploads[0].is_dir(), uploads  # unpacked under its content hash, no leftovers
    assert (uploads[0] / "beir" / "corpus.jsonl").is_file()
    assert metric_values(at).get("Retrieval (nDCG@10)") not in (None, "n/a"), metric_values(at)

    # The same bytes again: free, nothing new is unpacked.
    at.sidebar.file_uploader(key="w.data_upload").upload("my set.zip", zipped(folder), "application/zip").run()
    assert not errors(at) and len(list((data_dir / "uploads").iterdir())) == 1

    # Not a zip at all, then a zip of a malformed folder: one line each, naming the user's file.
    at.sidebar.file_uploader(key="w.data_upload").upload("broken.zip", b"not a zip", "application/zip").run()
    assert not at.exception, at.exception
    assert len(errors(at)) == 1 and errors(at)[0].startswith("broken.zip: not a zip archive"), errors(at)
    assert any("Still evaluating on the previous data: my set" in c for c in captions(at)), captions(at)

    bad = write_beir(tmp_path / "bad")
    _bad_json(bad)
    at.sidebar.file_uploader(key="w.data_upload").upload("bad set.zip", zipped(bad, top=None), "application/zip").run()
    assert not at.exception, at.exception
    found = errors(at)
    assert len(found) == 1 and found[0].startswith("bad set.zip/corpus.jsonl: line 2"), found
    assert str(data_dir) not in found[0] and "uploads" not in found[0], found  # never the server's copy
    leftovers = [p.name for p in (data_dir / "uploads").iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers  # a failed unpack leaves nothing behind


def test_the_data_choice_key_names_the_quick_cut():
    from slimlib.data.retrieval import QUICK_DOCUMENT_CHARS, QUICK_OTHER_DOCUMENTS, QUICK_QUERIES
    from ui.evaluation import DataChoice

    choice = DataChoice("/x", "x (3 queries, 9 documents)", "abc", "retrieval")
    assert choice.key(True) != choice.key(False)
    assert f"{QUICK_QUERIES}q-{QUICK_OTHER_DOCUMENTS}d-{QUICK_DOCUMENT_CHARS}c" in choice.key(True)
    assert DataChoice("/x", "x (9 pairs)", "abc", "pairs").key(True) != choice.key(True)
    json.dumps(choice.key(True))  # a plain string


def test_the_accuracy_card_says_which_quick_subset_it_scored():
    from slimlib.report.result import EvalResult
    from ui.views import accuracy_caption, subset_text

    result = EvalResult.from_dict({
        "recipe": {"steps": [{"op": "prune_ffn", "keep": 0.5}]},
        "baseline": {"ndcg_at_10": 0.4, "ndcg_at_10_ci": [0.35, 0.45]},
        "compressed": {"ndcg_at_10": 0.39, "ndcg_at_10_ci": [0.34, 0.44]},
        "ratios": {"ndcg_at_10_retained": 0.975, "ndcg_at_10_retained_ci": [0.95, 1.0]},
        "significance": {"ndcg_at_10": {"difference_ci": [-0.02, 0.005], "verdict": "within noise"}},
        "measurement": {"quick": True, "data_kind": "retrieval", "data_queries": 50, "data_queries_total": 225,
                        "data_documents": 609, "data_documents_total": 1400},
    })
    assert subset_text(result) == "quick: 50 of 225 queries"
    assert accuracy_caption("ndcg_at_10", result, False) == "measured; 95% CI 0.3400-0.4400; within noise; quick: 50 of 225 queries"
    full = EvalResult.from_dict({**result.to_dict(), "measurement": {**result.measurement, "quick": False}})
    assert subset_text(full) is None


def test_compare_and_present_show_ndcg_on_retrieval_data(tiny_bert_path, tmp_path, monkeypatch):
    from app_helpers import PAGES
    from slimlib.ops.recipe import Recipe, make_step
    from ui.evaluation import evaluate_and_store, retrieval_choice

    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    folder = write_beir(tmp_path / "beir")
    data = retrieval_choice(folder, "beir")
    recipe = Recipe(str(tiny_bert_path), [make_step("drop_layers", keep=1)])
    evaluate_and_store(Recipe(str(tiny_bert_path), []), data, True, use_streamlit_cache=False)
    evaluate_and_store(recipe, data, True, use_streamlit_cache=False)
    saved = {"mode": PATH_MODE, "path": str(folder), "upload": None}
    from ui.config import default_config

    config = default_config(model=str(tiny_bert_path))
    config["ops"]["drop_layers"] = {"mode": "keep", "dropped": [], "keep": 1}

    compare = AppTest.from_file(str(PAGES / "2_Compare.py"), default_timeout=TIMEOUT)
    compare.session_state["config"] = config
    compare.run()
    assert not compare.exception, compare.exception
    columns = list(compare.dataframe[0].value.columns)
    assert any(c.startswith("nDCG@10 retained") for c in columns) and not any(c.startswith("STS") for c in columns), columns
    parallel = chart_spec(compare)
    assert "nDCG@10 retained" in [d["label"] for d in parallel["data"][0]["dimensions"]]

    present = AppTest.from_file(str(PAGES / "7_Present.py"), default_timeout=TIMEOUT)
    present.session_state["config"] = config
    present.session_state["data.saved"] = dict(saved)
    present.run()
    assert not present.exception, present.exception
    assert not present.error, [e.value for e in present.error]
    spec = chart_spec(present)
    assert spec["layout"]["yaxis"]["title"]["text"].startswith("nDCG@10 retained"), spec["layout"]["yaxis"]
    assert any("error_y" in t for t in spec["data"])
    html = " ".join(m.value for m in present.markdown)
    assert "nDCG@10" in html and "95% CI" in html


def test_the_shared_cranfield_folder_is_a_built_in_choice_read_in_place():
    from ui.controls import CRANFIELD_MODE, data_modes
    from ui.evaluation import CRANFIELD, retrieval_choice

    if not (CRANFIELD / "corpus.jsonl").is_file():
        assert CRANFIELD_MODE not in data_modes()  # offered only where it exists
        pytest.skip(f"Cranfield not found at {CRANFIELD}")
    assert CRANFIELD_MODE in data_modes()
    choice = retrieval_choice(CRANFIELD, CRANFIELD.name)
    assert choice.label == "cranfield (225 queries, 1,400 documents)" and choice.kind == "retrieval"
    assert choice.path == str(CRANFIELD.resolve())
