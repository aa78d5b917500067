"""The generated docs match what generates them: docs/recipes.md (the op registry), docs/cli.md
(argparse), docs/benchmarks.md and README's marked tables (benchmarks/results/*.json). When one of
these fails, run `python -m slimlib docs` and commit the files it writes."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from slimlib.cli import build_parser, main
from slimlib.commands import docs_cmd

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("what", docs_cmd.TARGETS)
def test_committed_docs_equal_what_the_command_writes(what, capsys):
    code = main(["docs", what, "--check", "--root", str(ROOT)])
    assert code == 0, capsys.readouterr().out


def test_recipes_doc_lists_every_registered_op_and_setting():
    import dataclasses

    from slimlib.ops.registry import op_specs

    text = docs_cmd.render_recipes()
    for spec in op_specs():
        assert f"## {spec.name}\n" in text
        for f in dataclasses.fields(spec.settings):
            assert f"| `{f.name}` |" in text, (spec.name, f.name)


def test_allowed_values_are_read_from_the_validation():
    from slimlib.ops.registry import op_spec

    def allowed(op, name):
        spec = op_spec(op)
        field = next(f for f in __import__("dataclasses").fields(spec.settings) if f.name == name)
        return docs_cmd.allowed_values(spec, field)

    assert allowed("quantize", "bits") == "32, 16, 8, 4, 3, 2"
    assert allowed("quantize", "float16") == '"bf16", "fp16"'
    assert allowed("prune_heads", "fraction") == "(0, 1)"  # one of a group: the others are left out
    assert allowed("distill", "lr") == "(0, 1]"


def test_cli_doc_has_every_subcommand():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    text = docs_cmd.render_cli(action)
    for name in action.choices:
        assert f"## {name}\n" in text and f"usage: python -m slimlib {name}" in text


def results_folder(tmp_path: Path, **files: dict) -> Path:
    folder = tmp_path / "benchmarks" / "results"
    folder.mkdir(parents=True)
    for name, body in files.items():
        (folder / f"{name}.json").write_text(json.dumps(body))
    return tmp_path


HEADLINE = {"cpu": "Test CPU 9000", "cpu_features": ["AVX2"], "cores": 2, "threads": 2, "date": "2000-01-02",
            "versions": {"torch": "1"}, "commit": "abcdef1234567",
            "rows": [{"model": "m", "variant": "int8", "size_mb": 23.7, "size_ratio": 0.258, "speedup": 1.71,
                      "sts": 86.43, "sts_retained": 0.9967, "fidelity_cosine": 0.99, "params": 10,
                      "speed_how": "measured", "date": "2000-01-02", "commit": "abcdef1234567"},
                     {"model": "m", "variant": "int3", "size_mb": 11.8, "size_ratio": 0.128, "speedup": None,
                      "sts": 86.68, "sts_retained": 0.9996, "fidelity_cosine": 0.91, "params": 10,
                      "speed_how": "not measured: no kernel"}]}


def test_readme_markers_are_filled_from_the_results(tmp_path):
    root = results_folder(tmp_path, headline=HEADLINE)
    readme = ("intro\n<!-- BEGIN headline (generated) -->\nold table\n<!-- END headline -->\n"
              "<!-- BEGIN retrieval -->\n<!-- END retrieval -->\nend\n")
    text = docs_cmd.fill_markers(readme, docs_cmd.load_results(root))
    assert "old table" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert "| m | int8 | 23.7 | 0.26 | 1.71x | 86.43 | 99.7% |" in text
    assert "not measured: no kernel" in text  # a missing speed says why
    assert "Test CPU 9000" in text and "2000-01-02" not in text  # the CPU named; no run dates in the README
    assert "Not measured yet" in text  # no retrieval.json: the placeholder
    assert docs_cmd.fill_markers(text, docs_cmd.load_results(root)) == text  # idempotent


def test_retrieval_table_appears_when_its_results_exist(tmp_path):
    retrieval = {"cpu": "Test CPU", "date": "2000-01-02", "versions": {}, "commit": "abc",
                 "data": {"retrieval": "Cranfield (225 queries, 1,400 documents)", "bm25_ndcg_at_10": 0.316},
                 "baselines": {"m": {"ndcg_at_10": 0.4, "ndcg_at_10_trec_eval": 0.4, "recall_at_10": 0.5,
                                     "mrr_at_10": 0.6}},
                 "rows": [{"model": "m", "variant": "int8", "sts_retained": 0.99, "sts_retained_ci": [0.98, 1.0],
                           "ndcg_at_10_retained": 0.98, "ndcg_at_10_retained_ci": [0.96, 0.995],
                           "ndcg_verdict": "worse than the baseline", "ndcg_at_10": 0.312, "speedup": 1.5,
                           "size_mb": 23.7}]}
    root = results_folder(tmp_path, retrieval=retrieval)
    text = docs_cmd.fill_markers("<!-- BEGIN retrieval -->\n<!-- END retrieval -->\n", docs_cmd.load_results(root))
    assert ("| m | int8 | 99.0% (98.0%-100.0%) | 0.312 | 98.0% (96.0%-99.5%) | worse than the baseline | 1.50x | 23.7 |"
            in text)
    assert "m nDCG@10 0.4000 (trec_eval on the same rankings: 0.4000)" in text and "BM25 scores nDCG@10 0.316" in text


def test_benchmarks_doc_names_cpu_date_and_commit(tmp_path):
    root = results_folder(tmp_path, headline=HEADLINE, other={"rows": [{"model": "m", "variant": "x", "seconds": 3,
                                                                         "change": "bits 8"}]})
    text = docs_cmd.render_benchmarks(root)
    assert "Test CPU 9000" in text and "2000-01-02" in text and "abcdef1234" in text
    assert "## other" in text and "bits 8" in text  # an unknown section still renders, generically


def test_bench_results_are_merged_by_model_and_variant(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    sys.modules.pop("common", None)
    import common

    common.write_results("s", [{"model": "m", "variant": "a", "sts": 1}, {"model": "m", "variant": "b", "sts": 2}],
                         tmp_path)
    path = common.write_results("s", [{"model": "m", "variant": "b", "sts": 3}], tmp_path)
    body = json.loads(path.read_text())
    assert {r["variant"]: r["sts"] for r in body["rows"]} == {"a": 1, "b": 3}
    for key in ("cpu", "date", "versions", "commit"):
        assert key in body
    assert all("date" in r and "commit" in r for r in body["rows"])
    sys.modules.pop("common", None)
