"""eval on a BEIR folder: the JSON contract, the disk cache, prompts, stop, and one-line CLI errors."""
import copy
import json

import numpy as np
import pytest

from slimlib.cli import main
from slimlib.errors import Cancelled
from slimlib.ops.recipe import FORMAT, Recipe, make_step
from slimlib.workflows import accuracy
from slimlib.workflows.evaluate import EvalOptions, evaluate

from beir_data import write_beir


@pytest.fixture(scope="module")
def beir(tmp_path_factory):
    return write_beir(tmp_path_factory.mktemp("beir") / "set")


def _recipe_file(path, base, *steps):
    path.write_text(json.dumps({"format": FORMAT, "base_model": str(base), "steps": list(steps)}))
    return path


def test_eval_json_contract_on_a_retrieval_folder(tiny_bert, beir, tmp_path, capsys):
    recipe = _recipe_file(tmp_path / "r.json", tiny_bert.path, {"op": "prune_ffn", "keep": 0.5})
    assert main(["eval", str(recipe), "--data", str(beir), "--threads", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for name in ("ndcg_at_10", "recall_at_10", "mrr_at_10"):
        for section in ("baseline", "compressed"):
            value, (low, high) = out[section][name], out[section][f"{name}_ci"]
            assert 0.0 <= low <= value <= high <= 1.0
        retained = out["ratios"][f"{name}_retained"]
        assert retained == pytest.approx(out["compressed"][name] / out["baseline"][name], abs=1e-3)
        assert len(out["ratios"][f"{name}_retained_ci"]) == 2
        assert out["significance"][name]["verdict"] in ("within noise", "better than the baseline",
                                                        "worse than the baseline")
        assert out["labels"][name] == "measured"
    m = out["measurement"]
    assert (m["data_kind"], m["data_queries"], m["data_documents"]) == ("retrieval", 3, 9)
    assert out["baseline"]["sts_spearman"] is None and out["ratios"]["sts_retained"] is None
    assert out["compressed"]["fidelity_cosine"] is not None  # fidelity to the original, always


def test_the_empty_recipe_retains_everything_and_is_within_noise(tiny_bert, beir):
    result = evaluate(Recipe(str(tiny_bert.path), []), EvalOptions(data=str(beir), threads=1, quick=True))
    assert result["ratios"]["ndcg_at_10_retained"] == 1.0
    assert result["significance"]["ndcg_at_10"] == {"difference_ci": [0.0, 0.0], "verdict": "within noise"}
    assert result["measurement"]["data_sample"] is None  # the whole small set is the quick set


def test_pairs_carry_intervals_too(tiny_bert, stsb_dev_small):
    result = evaluate(Recipe(str(tiny_bert.path), [make_step("prune_ffn", keep=0.5)]),
                      EvalOptions(data=str(stsb_dev_small), threads=1, quick=True, max_pairs=60))
    low, high = result["compressed"]["sts_spearman_ci"]
    assert low <= result["compressed"]["sts_spearman"] <= high
    assert result["measurement"]["data_kind"] == "pairs"
    assert set(result["significance"]) == {"sts_spearman"}


def test_baseline_vectors_are_cached_on_disk_and_reused(tiny_bert, beir, monkeypatch):
    data = accuracy.load_eval_data(str(beir), quick=False)
    path = accuracy._baseline_cache_file(tiny_bert, data.retrieval)
    path.unlink(missing_ok=True)
    queries, docs = accuracy.baseline_vectors(tiny_bert, data.retrieval)
    assert path.exists() and docs.shape[0] == 9
    monkeypatch.setattr(accuracy, "_embed", lambda *a, **k: pytest.fail("the cached baseline was embedded again"))
    again_q, again_d = accuracy.baseline_vectors(tiny_bert, data.retrieval)
    np.testing.assert_array_equal(again_d, docs)
    path.write_bytes(b"damaged")  # a damaged cache is recomputed, not a crash
    monkeypatch.undo()
    np.testing.assert_allclose(accuracy.baseline_vectors(tiny_bert, data.retrieval)[1], docs, atol=1e-6)


def test_stop_while_embedding_the_corpus_leaves_no_cache(tiny_bert, tmp_path):
    folder = write_beir(tmp_path / "big", docs={f"d{i}": f"text number {i}" for i in range(300)},
                        queries={"q": "text"}, qrels={"q": {"d1": 1}})
    data = accuracy.load_eval_data(str(folder), quick=False)
    calls = []
    with pytest.raises(Cancelled):
        accuracy.baseline_vectors(tiny_bert, data.retrieval, should_stop=lambda: calls.append(1) or len(calls) > 1)
    assert not accuracy._baseline_cache_file(tiny_bert, data.retrieval).exists()


def test_models_with_query_and_document_prompts_use_them(tiny_bert):
    from slimlib.measure.retrieval import encode_texts, prompt_for

    model = copy.deepcopy(tiny_bert.model)
    assert prompt_for(model, "query") is None  # MiniLM-style: no prompts, nothing added
    model.prompts = {"query": "query: ", "passage": "passage: "}
    assert (prompt_for(model, "query"), prompt_for(model, "document")) == ("query", "passage")
    got = encode_texts(model, ["wing lift"], "query")
    want = model.encode(["query: wing lift"], normalize_embeddings=True)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert not np.allclose(got, encode_texts(model, ["wing lift"], "document"), atol=1e-3)


@pytest.mark.parametrize("breakage,expected", [
    (lambda f: (f / "qrels" / "test.tsv").unlink(), "qrels/test.tsv: missing"),
    (lambda f: (f / "corpus.jsonl").write_text("{bad\n"), "corpus.jsonl: line 1: not valid JSON"),
    (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tghost\t1\n"),
     "corpus-id 'ghost' is not in corpus.jsonl"),
    (lambda f: (f / "corpus.jsonl").write_text(""), "corpus.jsonl: the corpus is empty"),
    (lambda f: (f / "corpus.jsonl").unlink(), "corpus.jsonl: missing"),
])
def test_cli_bad_retrieval_folders_are_one_line_exit_2(tiny_bert, tmp_path, capsys, breakage, expected):
    folder = write_beir(tmp_path / "set")
    breakage(folder)
    recipe = _recipe_file(tmp_path / "r.json", tiny_bert.path)
    assert main(["eval", str(recipe), "--data", str(folder), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("slimlib: error: ") and expected in err and len(err.splitlines()) == 1
