"""Named public sets: the download turned into a BEIR folder (tested with local files), offline in one line."""
import pandas as pd
import pytest

from slimlib.data import public_sets
from slimlib.data.retrieval import read_retrieval
from slimlib.errors import DataFileError
from slimlib.workflows.accuracy import RETRIEVAL, load_eval_data


def _fake_snapshot(root):
    """The hub repository's layout: one parquet file per subset and split."""
    for subset, frame in {
        "corpus": pd.DataFrame({"_id": ["d1", "d2", "d3"], "text": ["wing lift", "heat flux", "shell buckling"]}),
        "queries": pd.DataFrame({"_id": ["q1", "q2"], "text": ["lift of wings", "buckling of shells"]}),
        "qrels": pd.DataFrame({"query-id": ["q1", "q2"], "corpus-id": ["d1", "d3"]}),
    }.items():
        (root / subset).mkdir(parents=True)
        frame.to_parquet(root / subset / "NanoSciFact-00000-of-00001.parquet")
        frame.iloc[:1].to_parquet(root / subset / "NanoNQ-00000-of-00001.parquet")  # another split: not read
    return root


def test_a_named_set_is_fetched_once_into_a_beir_folder(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(public_sets, "_download", lambda split: calls.append(split) or _fake_snapshot(tmp_path / "hub"))
    folder = public_sets.fetch_named_set("nanobeir:SciFact")
    data = read_retrieval(folder)
    assert (data.documents, data.queries, data.qrels) == (3, 2, {"q1": {"d1": 1}, "q2": {"d3": 1}})
    assert public_sets.fetch_named_set("nanobeir:scifact") == folder and calls == ["NanoSciFact"]  # cached
    evaluated = load_eval_data("nanobeir:scifact", quick=True)
    assert evaluated.kind == RETRIEVAL and evaluated.retrieval.queries == 2


def test_offline_the_first_use_fails_in_one_line(monkeypatch):
    def offline(split):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(public_sets, "_download", offline)
    with pytest.raises(DataFileError) as info:
        public_sets.fetch_named_set("nanobeir:fiqa2018")
    message = str(info.value)
    assert "cannot download NanoFiQA2018" in message and "pass a local BEIR folder" in message
    assert len(message.splitlines()) == 1


def test_unknown_names_list_the_known_ones():
    with pytest.raises(DataFileError, match="unknown NanoBEIR set 'nope'; known: arguana, climatefever"):
        public_sets.fetch_named_set("nanobeir:nope")
