"""BEIR folders: reading, every malformed case as one line naming the file, the quick cut, zips."""
import json
import zipfile

import pytest

from slimlib.data.retrieval import (extract_zip, is_retrieval_folder, quick_subset, read_retrieval)
from slimlib.errors import DataFileError

from beir_data import write_beir

CRANFIELD = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "data" / "cranfield"


def test_reads_a_folder_with_titles_and_grades(tmp_path):
    folder = write_beir(tmp_path / "set")
    (folder / "corpus.jsonl").write_text((folder / "corpus.jsonl").read_text()
                                         + json.dumps({"_id": 7, "title": "Title", "text": "body"}) + "\n")
    data = read_retrieval(folder)
    assert is_retrieval_folder(folder) and data.documents == 10 and data.queries == 3
    assert data.doc_texts[data.doc_ids.index("7")] == "Title body"  # numeric ids become strings; title + text
    assert data.qrels["q1"] == {"wing-0": 2, "wing-1": 1}
    assert len(data.digest) == 16 and data.sample is None


def test_queries_without_relevant_documents_are_not_evaluated(tmp_path):
    folder = write_beir(tmp_path / "set", queries={"q1": "a", "q2": "b", "q9": "unjudged"},
                        qrels={"q1": {"wing-0": 1}, "q2": {"heat-0": 0, "heat-1": 1}})
    data = read_retrieval(folder)
    assert data.query_ids == ("q1", "q2")
    assert data.qrels["q2"] == {"heat-1": 1}  # a 0 grade is judged non-relevant


@pytest.mark.parametrize("breakage,expected", [
    (lambda f: (f / "qrels" / "test.tsv").unlink(), "qrels/test.tsv: missing"),
    (lambda f: (f / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n{oops\n'),
     "corpus.jsonl: line 2: not valid JSON"),
    (lambda f: (f / "corpus.jsonl").write_text(""), "corpus.jsonl: the corpus is empty"),
    (lambda f: (f / "queries.jsonl").write_text('{"_id": "q1"}\n'), 'queries.jsonl: line 1: missing "text"'),
    (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tnope\t1\n"),
     "qrels/test.tsv: line 2: corpus-id 'nope' is not in corpus.jsonl"),
    (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq7\twing-0\t1\n"),
     "qrels/test.tsv: line 2: query-id 'q7' is not in queries.jsonl"),
    (lambda f: (f / "qrels" / "test.tsv").write_text("q1\twing-0\t1\n"), "qrels/test.tsv: line 1: expected the header"),
    (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\twing-0\thigh\n"),
     "line 2: score 'high' is not a number"),
    (lambda f: (f / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n'),
     "line 2: duplicate _id 'a'"),
])
def test_malformed_folders_get_one_line_naming_the_file(tmp_path, breakage, expected):
    folder = write_beir(tmp_path / "set")
    breakage(folder)
    with pytest.raises(DataFileError) as info:
        read_retrieval(folder)
    message = str(info.value)
    assert expected in message and str(folder) in message and len(message.splitlines()) == 1


def test_messages_use_the_given_name(tmp_path):
    folder = write_beir(tmp_path / "set")
    (folder / "corpus.jsonl").write_text("[1]\n")
    with pytest.raises(DataFileError, match=r"^upload\.zip/corpus\.jsonl: line 1: expected a JSON object"):
        read_retrieval(folder, name="upload.zip")


def test_quick_subset_is_fixed_stratified_and_keeps_the_relevant_documents(tmp_path):
    docs = {f"d{i}": f"document {i}" for i in range(200)}
    queries = {f"q{i}": f"query {i}" for i in range(40)}
    qrels = {f"q{i}": {f"d{(i * 5 + j) % 200}": 1 for j in range(1 + i % 4)} for i in range(40)}
    full = read_retrieval(write_beir(tmp_path / "set", docs, queries, qrels))
    cut = quick_subset(full, queries=8, other_documents=20)
    assert cut.queries == 8 and cut == quick_subset(full, queries=8, other_documents=20)
    relevant = {d for q in cut.query_ids for d in full.qrels[q]}
    assert relevant <= set(cut.doc_ids) and cut.documents == len(relevant) + 20
    assert sorted({len(full.qrels[q]) for q in cut.query_ids}) == [1, 2, 3, 4]  # every stratum is represented
    assert "8 of 40 queries" in cut.sample and f"of {full.documents} documents" in cut.sample
    assert quick_subset(cut, queries=8, other_documents=100) is cut  # small sets are used whole


def test_quick_subset_cuts_long_documents_at_a_word_boundary(tmp_path):
    long_text = " ".join(f"word{i}" for i in range(400))
    full = read_retrieval(write_beir(tmp_path / "set", docs={"a": long_text, "b": "short"}, queries={"q": "x"},
                                     qrels={"q": {"a": 1}}))
    cut = quick_subset(full, queries=1, other_documents=1, document_chars=50)
    text = cut.doc_texts[cut.doc_ids.index("a")]
    assert len(text) <= 50 and long_text.startswith(text) and long_text[len(text)] == " "
    assert "each cut to its first 50 characters" in cut.sample
    assert quick_subset(full, queries=1, other_documents=1, document_chars=None) is full


def test_zip_of_a_folder_unpacks_to_it_and_refuses_escaping_paths(tmp_path):
    folder = write_beir(tmp_path / "mine")
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.rglob("*"):
            zf.write(path, path.relative_to(tmp_path))
    unpacked = extract_zip(archive, tmp_path / "out")
    assert unpacked.name == "mine" and read_retrieval(unpacked).queries == 3
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(DataFileError, match="points outside"):
        extract_zip(evil, tmp_path / "out2")
    (tmp_path / "not.zip").write_text("plain text")
    with pytest.raises(DataFileError, match="not a zip archive"):
        extract_zip(tmp_path / "not.zip", tmp_path / "out3")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(DataFileError, match="no corpus.jsonl"):
        extract_zip(empty, tmp_path / "out4")


@pytest.mark.skipif(not CRANFIELD.is_dir(), reason="shared/data/cranfield is not beside the checkout")
def test_cranfield_reads_as_described_in_its_readme():
    data = read_retrieval(CRANFIELD)
    assert data.documents == 1400 and data.queries == 225
    assert sum(len(v) for v in data.qrels.values()) == 1612  # 1,612 qrels rows, all with scores 1-4
