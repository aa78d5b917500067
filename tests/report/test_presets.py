"""Presets: which data each claim is confirmed on, and judging a replay on the data it was scored on."""
from __future__ import annotations

from slimlib.report.presets import PRESETS, Check, judge, listing, scored_on
from slimlib.report.result import METRICS

BY_KEY = {p.key: p for p in PRESETS}


def test_every_check_names_a_metric_and_the_data_it_needs():
    for item in PRESETS:
        for check in item.checks:
            assert check.metric in METRICS, (item.key, check.metric)
        assert "pairs" in item.confirms_on  # every claim is still checked on STS
    assert Check("ndcg_retained", ">=", 0.9, "x").data == "retrieval"
    assert Check("sts_retained", ">=", 0.9, "x").data == "pairs"
    assert Check("speedup", ">=", 2, "x").data is None


def test_presets_say_whether_they_confirm_on_retrieval_as_well():
    assert BY_KEY["int8"].retrieval and BY_KEY["int8"].confirms_on == ("pairs", "retrieval")
    assert not BY_KEY["mpnet_teacher"].retrieval and BY_KEY["mpnet_teacher"].confirms_on == ("pairs",)
    assert BY_KEY["int8"].confirms_on_text() == "STS (a pair file) and retrieval (nDCG@10 on a BEIR folder)"
    assert BY_KEY["static"].confirms_on_text() == "STS (a pair file) only"
    rows = {row["key"]: row for row in listing()}
    assert list(rows) == [p.key for p in PRESETS]
    assert rows["prune20"]["retrieval"] is True and rows["prune20"]["confirms_on"] == ["pairs", "retrieval"]
    assert rows["static"]["confirmed_on"] == "STS (a pair file) only"


def test_a_retrieval_replay_is_judged_on_ndcg_and_a_pair_replay_on_sts():
    int8 = BY_KEY["int8"]
    on_retrieval = {"size": 0.26, "speedup": 3.5, "sts_retained": None, "ndcg_retained": 0.995, "ndcg_at_10": 0.5}
    assert scored_on(on_retrieval) == "retrieval"
    outcome, checks = judge(int8, on_retrieval)
    assert outcome == "confirmed" and [c["metric"] for c in checks] == ["size", "speedup", "ndcg_retained"]
    outcome, checks = judge(int8, {**on_retrieval, "ndcg_retained": 0.95})
    assert outcome == "partly confirmed" and checks[-1]["passed"] is False and checks[-1]["data"] == "retrieval"
    on_pairs = {"size": 0.26, "speedup": 3.5, "sts_retained": 0.995, "sts_spearman": 80.0}
    outcome, checks = judge(int8, on_pairs)
    assert outcome == "confirmed" and [c["metric"] for c in checks] == ["size", "speedup", "sts_retained"]
    # A preset that only claims STS, replayed on retrieval: its accuracy is not checked, and it says so.
    outcome, checks = judge(BY_KEY["mpnet_teacher"], {"params": 0.5, "speedup": 2.0, "ndcg_retained": 0.99})
    assert outcome == "confirmed" and all(c["data"] is None for c in checks)
    # No labelled data: both accuracy checks stay, unmeasured.
    outcome, checks = judge(int8, {"size": 0.26, "speedup": 3.5})
    assert outcome.startswith("partly measured") and sum(c["measured"] is None for c in checks) == 2
    # The data kind can be given outright (e.g. from EvalResult.data_kind).
    assert [c["metric"] for c in judge(int8, on_pairs, "retrieval")[1]][-1] == "ndcg_retained"
