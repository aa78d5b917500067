"""Training sentences: the project corpus, text and pair files, and BEIR retrieval folders."""
from __future__ import annotations

import pytest
from beir_data import QUERIES, TOPICS, write_beir

from slimlib.data.corpus import load_sentences, project_sentences, sentences_hash
from slimlib.data.retrieval import read_retrieval
from slimlib.errors import DataFileError, RecipeError


def test_default_and_text_files(tmp_path):
    assert load_sentences("default") == list(project_sentences()) == load_sentences(None)
    text = tmp_path / "s.txt"
    text.write_text("one\n\n two \n", encoding="utf-8")
    assert load_sentences(str(text)) == ["one", "two"]


def test_a_beir_folder_gives_its_queries_and_documents(tmp_path):
    folder = write_beir(tmp_path / "beir")
    sentences = load_sentences(str(folder))
    assert sentences == read_retrieval(folder).texts()
    assert set(QUERIES.values()) <= set(sentences)
    assert {t for texts in TOPICS.values() for t in texts} <= set(sentences)
    assert len(sentences) == len(QUERIES) + sum(len(t) for t in TOPICS.values()) == len(set(sentences))


@pytest.mark.parametrize("break_it, message", [
    (lambda f: (f / "queries.jsonl").unlink(), r"beir/queries.jsonl: missing; a BEIR folder holds"),
    (lambda f: (f / "corpus.jsonl").write_text('{"_id": "1"}\n'), r'beir/corpus.jsonl: line 1: missing "text"'),
    (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tnope\t1\n"),
     r"beir/qrels/test.tsv: line 2: corpus-id 'nope' is not in corpus.jsonl"),
])
def test_a_malformed_folder_is_one_line(tmp_path, break_it, message):
    folder = write_beir(tmp_path / "beir")
    break_it(folder)
    with pytest.raises(DataFileError, match=message) as info:
        load_sentences(str(folder))
    assert "\n" not in str(info.value)


def test_a_folder_that_is_not_beir_says_what_it_needs(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(DataFileError, match=r"notes/corpus.jsonl: missing; a BEIR folder holds corpus.jsonl"):
        load_sentences(str(tmp_path / "notes"))


def test_a_malformed_folder_as_a_corpus_setting_names_the_step(tiny_bert, tmp_path):
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe

    folder = write_beir(tmp_path / "beir")
    (folder / "queries.jsonl").unlink()
    for step in ({"op": "distill", "steps": 2, "corpus": str(folder)}, {"op": "static", "dims": 32, "corpus": str(folder)}):
        recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": tiny_bert.path, "steps": [step]})
        with pytest.raises(RecipeError, match=r"steps\[0\]\.corpus: .*beir/queries.jsonl: missing") as info:
            apply_recipe(recipe, tiny_bert)
        assert "\n" not in str(info.value)


@pytest.mark.slow
def test_distill_trains_on_a_beir_folder(tiny_bert, tmp_path, monkeypatch):
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe

    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    folder = write_beir(tmp_path / "beir")
    step = {"op": "distill", "steps": 2, "batch_size": 4, "max_seq_length": 32, "corpus": str(folder)}
    recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": tiny_bert.path, "steps": [step]})
    compressed = apply_recipe(recipe, tiny_bert)
    assert compressed.recipe.steps[0].corpus_sha256 == sentences_hash(read_retrieval(folder).texts())
