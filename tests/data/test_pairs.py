"""Labelled pair files and sentence files."""
import pytest

from slimlib.data.corpus import load_sentences, project_sentences
from slimlib.errors import DataFileError
from slimlib.data.pairs import read_pairs


def test_reads_sts_benchmark(stsb_dev):
    pairs = read_pairs(stsb_dev)
    assert len(pairs) == 1500
    assert all(0 <= p.score <= 5 for p in pairs)
    assert pairs[0].sentence1 and pairs[0].sentence2


@pytest.mark.parametrize("header,sep", [
    ("sentence1,sentence2,score", ","),
    ("sentence_A\tsentence_B\trelatedness_score", "\t"),
    ("id,Sentence1,Sentence2,Label", ","),
])
def test_reads_headed_csv_and_tsv(tmp_path, header, sep):
    cols = header.split(sep)
    rows = []
    for i in range(4):
        values = {c.lower(): v for c, v in zip(cols, [str(i)] * len(cols))}
        row = []
        for c in cols:
            lc = c.lower()
            row.append(f"first {i}" if lc in ("sentence1", "sentence_a") else
                       f"second {i}" if lc in ("sentence2", "sentence_b") else
                       str(i * 0.5) if lc in ("score", "relatedness_score", "label") else values[lc])
        rows.append(sep.join(row))
    path = tmp_path / "pairs.txt"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    pairs = read_pairs(path)
    assert [p.score for p in pairs] == [0.0, 0.5, 1.0, 1.5]
    assert pairs[2].sentence1 == "first 2" and pairs[2].sentence2 == "second 2"


@pytest.mark.parametrize("content,message", [
    ("", "the pair file is empty"),
    ("a,b,c\n1,2,3\n", r"unknown columns \['a', 'b', 'c'\]"),
    ("sentence1,sentence2,score\nx,y,high\n", r"line 2: score 'high' is not a number"),
    ("sentence1,sentence2,score\nx,y\n", r"line 2 has 2 fields, expected at least 3"),
    ("sentence1,sentence2,score\nx,y,nan\n", r"line 2: score 'nan' is not a finite number"),
    ("sentence1,sentence2,score\nx,y,1\n", r"has 1 scored pairs; at least 3 are needed"),
])
def test_bad_pair_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFileError, match=message):
        read_pairs(path)


def test_not_utf8_and_missing(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("sentence1,sentence2,score\ncaf\xe9,b,1\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="not UTF-8 text"):
        read_pairs(path)
    with pytest.raises(DataFileError, match="pair file not found"):
        read_pairs(tmp_path / "missing.csv")


def test_enormous_file_is_refused_before_reading(tmp_path, monkeypatch):
    import slimlib.data.pairs as pairs_module

    monkeypatch.setattr(pairs_module, "MAX_PAIR_FILE_BYTES", 100)
    path = tmp_path / "big.csv"
    path.write_text("sentence1,sentence2,score\n" + "a,b,1\n" * 50, encoding="utf-8")
    with pytest.raises(DataFileError, match="above the 0 MB limit"):
        read_pairs(path)


def test_project_corpus_is_varied():
    sentences = project_sentences()
    assert len(sentences) >= 500
    assert len(set(sentences)) == len(sentences)
    lengths = [len(s.split()) for s in sentences]
    assert min(lengths) <= 4 and max(lengths) >= 30
    assert sum(s.endswith("?") for s in sentences) >= 30


def test_sentence_sources(tmp_path, stsb_dev):
    assert load_sentences("default") == list(project_sentences())
    text = tmp_path / "s.txt"
    text.write_text("one\n\ntwo\n", encoding="utf-8")
    assert load_sentences(str(text)) == ["one", "two"]
    from_pairs = load_sentences(str(stsb_dev))
    assert 2500 < len(from_pairs) <= 3000  # both sides of 1,500 pairs, deduplicated
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="contains no sentences"):
        load_sentences(str(empty))
    with pytest.raises(DataFileError, match="sentence file not found"):
        load_sentences(str(tmp_path / "nope.txt"))


def test_stratified_sample_spreads_over_scores_and_genres_deterministically(stsb_dev):
    from collections import Counter

    import numpy as np

    from slimlib.data.pairs import QUICK_PAIRS, stratified_sample

    pairs = read_pairs(stsb_dev)
    assert Counter(p.genre for p in pairs) == {"main-captions": 625, "main-news": 500, "main-forums": 375}
    sample = stratified_sample(pairs, QUICK_PAIRS)
    assert len(sample) == QUICK_PAIRS == len({id(p) for p in sample})
    assert sample == stratified_sample(read_pairs(stsb_dev), QUICK_PAIRS)  # the same file, the same pairs
    assert sample != pairs[:QUICK_PAIRS]  # not the first pairs (all captions, the easiest genre)
    # Every genre in proportion (625:500:375 of 1,500), each spread over its score range.
    share = Counter(p.genre for p in sample)
    assert set(share) == {"main-captions", "main-news", "main-forums"}
    for genre, count in Counter(p.genre for p in pairs).items():
        assert abs(share[genre] - QUICK_PAIRS * count / len(pairs)) < 1
    for genre in share:
        full = np.array([p.score for p in pairs if p.genre == genre])
        picked = np.array([p.score for p in sample if p.genre == genre])
        assert np.abs(np.quantile(picked, [0.1, 0.5, 0.9]) - np.quantile(full, [0.1, 0.5, 0.9])).max() < 0.35
    order = {id(p): i for i, p in enumerate(pairs)}
    assert [order[id(p)] for p in sample] == sorted(order[id(p)] for p in sample)  # kept in file order
    assert stratified_sample(pairs[:50], QUICK_PAIRS) == pairs[:50]  # a small file is scored whole


def test_a_genre_column_of_a_headed_file_is_read(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("genre,sentence1,sentence2,score\nnews,a,b,1\nforum,c,d,2\nnews,e,f,3\n", encoding="utf-8")
    assert [p.genre for p in read_pairs(path)] == ["news", "forum", "news"]


@pytest.mark.parametrize("content,message", [
    ("a,b,c\n1,2,3\n", "my pairs.csv: unknown columns"),
    ("sentence1,sentence2,score\nx,y,high\n", "my pairs.csv: line 2: score 'high'"),
    (b"sentence1,sentence2,score\ncaf\xe9,b,1\n", "my pairs.csv: not UTF-8 text"),
])
def test_errors_can_name_the_file_as_the_user_knows_it(tmp_path, content, message):
    path = tmp_path / "0123abcd.csv"  # e.g. the server's copy of an upload
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataFileError) as info:
        read_pairs(path, name="my pairs.csv")
    assert str(info.value).startswith(message) and str(path) not in str(info.value)
