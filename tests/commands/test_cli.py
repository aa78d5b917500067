"""The CLI contract: eval JSON, apply folders, one-line errors with exit code 2."""
import json
import subprocess
import sys

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401
from slimlib.cli import main
from slimlib.ops.recipe import FORMAT

from helpers import ROOT, SAMPLE_SENTENCES


def write_recipe(path, base, *steps):
    path.write_text(json.dumps({"format": FORMAT, "base_model": str(base), "steps": list(steps)}))
    return path


def test_eval_json_contract(tiny_bert, tmp_path, capsys, stsb_dev_small):
    recipe = write_recipe(tmp_path / "r.json", tiny_bert.path)
    assert main(["eval", str(recipe), "--data", str(stsb_dev_small), "--threads", "1", "--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"base_model", "recipe", "baseline", "compressed", "ratios", "labels", "measurement"}
    for key in ("params", "size_bytes", "sentences_per_s", "sts_spearman"):
        assert out["baseline"][key] is not None
    assert set(out["compressed"]) >= set(out["baseline"]) | {"fidelity_cosine", "fidelity_spearman"}
    # The empty recipe is the baseline: same params, same accuracy, perfect fidelity.
    assert out["compressed"]["params"] == out["baseline"]["params"]
    assert out["compressed"]["sts_spearman"] == pytest.approx(out["baseline"]["sts_spearman"], abs=1e-3)
    assert out["compressed"]["fidelity_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert out["ratios"]["sts_retained"] == pytest.approx(1.0, abs=1e-4)
    assert out["ratios"]["size"] == pytest.approx(out["compressed"]["size_bytes"] / out["baseline"]["size_bytes"], abs=1e-4)
    assert out["measurement"]["threads"] == 1
    # Timed against itself on a busy machine, the baseline may be labelled noisy (its spread says why):
    # tests/workflows/test_quick_eval.py forces both outcomes with a stub clock.
    label = out["labels"]["sentences_per_s"]
    assert label == "measured" or (label.startswith("noisy: ") and out["measurement"]["speed_noisy"])


def test_eval_without_data_has_null_sts(tiny_bert, tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.json", tiny_bert.path)
    assert main(["eval", str(recipe), "--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["baseline"]["sts_spearman"] is None and out["ratios"]["sts_retained"] is None


def test_apply_writes_a_loadable_folder(tiny_mpnet, tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.json", tiny_mpnet.path)
    out_dir = tmp_path / "out"
    assert main(["apply", str(recipe), "--out", str(out_dir)]) == 0
    reloaded = SentenceTransformer(str(out_dir), device="cpu")
    np.testing.assert_allclose(reloaded.encode(SAMPLE_SENTENCES), tiny_mpnet.model.encode(SAMPLE_SENTENCES), atol=1e-5)
    assert json.loads((out_dir / "slimlib_recipe.json").read_text())["format"] == FORMAT


@pytest.mark.parametrize("content,expected", [
    ("{oops", "not valid JSON"),
    ('{"format": "slimlib.recipe/v1", "steps": [{"op": "quantize", "bits": 5}]}', "steps[0].bits: 5 is not allowed"),
    ('{"format": "slimlib.recipe/v1", "base_model": "/no/such/model", "steps": []}', "/no/such/model: folder not found"),
])
def test_errors_are_one_line_exit_2(tmp_path, capsys, content, expected):
    recipe = tmp_path / "bad.json"
    recipe.write_text(content)
    assert main(["eval", str(recipe), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("slimlib: error: ") and expected in err
    assert len(err.splitlines()) == 1


def test_missing_data_file_is_exit_2(tiny_bert, tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.json", tiny_bert.path)
    assert main(["eval", str(recipe), "--data", str(tmp_path / "none.csv")]) == 2
    assert "none.csv: pair file not found" in capsys.readouterr().err


@pytest.mark.slow  # a fresh Python importing torch and transformers
def test_module_entry_point_help_documents_every_op():
    out = subprocess.run([sys.executable, "-m", "slimlib", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for op in ("prune_heads", "drop_layers", "prune_ffn", "low_rank", "factorize_embeddings", "trim_vocab",
               "share_layers", "distill", "quantize"):
        assert op in out.stdout
    assert "Example recipe" in out.stdout


def test_inspect_breaks_down_parameters(minilm, capsys):
    assert main(["inspect", "all-MiniLM-L6-v2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["architecture"] == "bert" and info["layers"] == 6 and info["vocab"] == 30522
    assert info["params"]["total"] == 22_713_216
    # The word-embedding table alone is 30522 x 384; it is most of the embeddings row.
    assert info["params"]["embeddings"] >= 30522 * 384
    assert len(info["params_per_layer"]) == 6
    assert main(["inspect", "all-MiniLM-L6-v2"]) == 0
    text = capsys.readouterr().out
    assert "22,713,216 parameters" in text and "embeddings" in text
    assert "This CPU (" in text and "fp16 is slow on CPUs" in text


def test_inspect_unknown_model_is_exit_2(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert "folder not found" in capsys.readouterr().err


def test_inspect_and_recompress_a_compressed_folder(tiny_bert, tmp_path, capsys):
    first = write_recipe(tmp_path / "first.json", tiny_bert.path, {"op": "drop_layers", "layers": [1]})
    assert main(["apply", str(first), "--out", str(tmp_path / "two"), "--no-eval"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "two"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layers"] == 2 and info["backend"] == "torch"
    # A compressed folder is a valid base for further compression.
    second = write_recipe(tmp_path / "second.json", tmp_path / "two", {"op": "drop_layers", "layers": [0]})
    assert main(["apply", str(second), "--out", str(tmp_path / "one"), "--no-eval"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "one"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"] == 1


def test_eval_quick_is_the_apps_quick_evaluation(tiny_bert, tmp_path, capsys, stsb_dev):
    """One definition: `eval --quick` scores the same stratified sample the app's live points do."""
    from slimlib.data.pairs import QUICK_PAIRS
    from slimlib.workflows.evaluate import EvalOptions
    from ui.evaluation import DataChoice

    recipe = write_recipe(tmp_path / "r.json", tiny_bert.path)
    assert main(["eval", str(recipe), "--data", str(stsb_dev), "--threads", "1", "--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    m = out["measurement"]
    assert (m["data_pairs"], m["data_pairs_total"], m["quick"]) == (QUICK_PAIRS, 1500, True)
    assert "interleaved with the baseline in this call" in m["speed"]
    assert DataChoice(str(stsb_dev), "dev", "d").options(quick=True) == EvalOptions(data=str(stsb_dev), quick=True)
    assert EvalOptions(quick=True).pairs_wanted() == QUICK_PAIRS and EvalOptions().pairs_wanted() is None

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"stratified sample of {QUICK_PAIRS} pairs" in help_text
    assert "timed against the baseline in the same call" in help_text
