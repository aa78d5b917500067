"""Goals: constraints plus an objective, judged over chart points by a pure function."""
from __future__ import annotations

import math
import re

import pytest

from slimlib.report.goal import DEFAULT_GOAL, Constraint, Goal, GoalError, objective_score, rank

POINTS = [
    {"id": 0, "size_mb": 90.9, "sts_retained": 1.0, "speedup": 1.0},    # baseline: too big
    {"id": 1, "size_mb": 23.0, "sts_retained": 0.985, "speedup": 2.1},  # meets, fast
    {"id": 2, "size_mb": 24.0, "sts_retained": 0.99, "speedup": 1.4},   # meets, slower
    {"id": 3, "size_mb": 12.0, "sts_retained": 0.90, "speedup": 3.0},   # fastest, misses STS
    {"id": 4, "size_mb": 20.0, "sts_retained": 0.98, "speedup": None},  # meets, speed not measured
]
GOAL = Goal((Constraint("sts_retained", ">=", 0.97), Constraint("size_mb", "<=", 25.0)), "speedup")


def test_best_is_the_feasible_point_with_the_best_objective():
    out = rank(POINTS, GOAL)
    assert out.best == 1 and out.ties == [1] and out.closest is None
    by = {s.index: s for s in out.scores}
    assert by[1].feasible and by[1].score == 2.1 and by[1].distance == 0.0
    assert by[2].feasible and by[2].score == 1.4
    # Infeasible points: no score, a distance that says how far (relative shortfall per constraint).
    assert by[3].feasible is False and by[3].score is None
    assert by[3].distance == pytest.approx((0.97 - 0.90) / 0.97)
    assert by[0].distance == pytest.approx((90.9 - 25) / 25)
    assert "STS retained" in by[3].status() and "misses" in by[3].status()
    # Feasible but the objective was not measured: it cannot win, and it says why.
    assert by[4].feasible and by[4].score is None and by[4].missing == ["speedup"]
    assert "not measured" in by[4].status()


def test_minimised_objective_prefers_the_smallest():
    out = rank(POINTS, Goal((Constraint("sts_retained", ">=", 0.97),), "size_mb"))
    assert out.best == 4  # 20 MB, smallest among those keeping 97% of STS


def test_no_feasible_point_names_the_closest():
    goal = Goal((Constraint("sts_retained", ">=", 0.995), Constraint("size_mb", "<=", 25.0)), "speedup")
    out = rank(POINTS, goal)
    assert out.best is None and out.ties == []
    # id 2: 0.99 vs 0.995 (0.5% short) is closer than the baseline (264% too big) or id 3.
    assert out.closest == 2
    assert all(s.score is None for s in out.scores)


def test_ties_keep_input_order_and_are_all_listed():
    points = [{"speedup": 2.0, "sts_retained": 0.98}, {"speedup": 1.0, "sts_retained": 0.99},
              {"speedup": 2.0, "sts_retained": 0.99}]
    out = rank(points, Goal((Constraint("sts_retained", ">=", 0.97),), "speedup"))
    assert out.best == 0 and out.ties == [0, 2]


def test_missing_constraint_metrics_are_neither_feasible_nor_closest():
    points = [{"speedup": 5.0, "sts_retained": None}, {"speedup": 1.2, "sts_retained": 0.5}]
    out = rank(points, Goal((Constraint("sts_retained", ">=", 0.97),), "speedup"))
    first, second = out.scores
    assert first.feasible is None and first.distance is None and first.missing == ["sts_retained"]
    assert out.best is None and out.closest == 1  # the unmeasured point never wins, even though it is fastest
    assert rank([], GOAL).best is None and rank([], GOAL).scores == []


def test_weighted_score_is_a_weighted_log_with_minimised_metrics_negative():
    goal = Goal((), None, (("speedup", 1.0), ("sts_retained", 3.0), ("size", 0.5)))
    point = {"speedup": 2.0, "sts_retained": 0.98, "size": 0.25}
    score, missing = objective_score(goal, point)
    assert missing == [] and score == pytest.approx(math.log(2.0) + 3 * math.log(0.98) - 0.5 * math.log(0.25))
    # 1% more STS is worth about 3% more speed under these weights.
    a = objective_score(goal, {**point, "sts_retained": 0.98 * 1.01})[0]
    b = objective_score(goal, {**point, "speedup": 2.0 * 1.03})[0]
    assert a == pytest.approx(b, rel=1e-3)
    # Non-positive or missing values cannot be scored.
    assert objective_score(goal, {**point, "speedup": None}) == (None, ["speedup"])
    assert objective_score(goal, {**point, "size": 0.0})[0] is None


def test_weighted_goal_ranks():
    goal = Goal((Constraint("sts_retained", ">=", 0.97),), None, (("speedup", 1.0), ("sts_retained", 10.0)))
    out = rank(POINTS, goal)
    # id 1: log 2.1 + 10 log 0.985 = 0.59; id 2: log 1.4 + 10 log 0.99 = 0.24; id 0 (baseline): 0.
    assert out.best == 1
    assert [s.index for s in out.scores if s.feasible and s.score is not None] == [0, 1, 2]


def test_constraints_only_any_feasible_point_wins_in_order():
    out = rank(POINTS, Goal((Constraint("size_mb", "<=", 25.0),), None))
    assert out.best == 1 and out.ties == [1, 2, 3, 4]


@pytest.mark.parametrize("goal", [
    GOAL,
    DEFAULT_GOAL,
    Goal((), "size_mb"),
    Goal((Constraint("fidelity", ">=", 0.98),), None, (("speedup", 2.0), ("size", 1.0))),
    Goal((Constraint("latency_ms", "<=", 4.5), Constraint("params", "<=", 0.8)), None),
])
def test_text_form_round_trips(goal):
    assert Goal.parse(goal.to_text()) == goal
    assert goal.describe()


def test_parse_reads_what_people_type_and_rejects_the_rest():
    goal = Goal.parse(" sts_retained >= 0.97 ; size_mb<=25; max:speedup ")
    assert goal == GOAL
    assert Goal.parse("score:speedup*2,sts_retained").weights == (("speedup", 2.0), ("sts_retained", 1.0))
    assert Goal.parse("") == Goal((), None)
    for bad, words in [("speed>=2", "not a metric"), ("sts_retained>=high", "not a number"),
                       ("max:size_mb", "smaller"), ("sts_retained=0.9", "write metric<=number"),
                       ("score:speedup*x", "metric*weight"), ("score:speedup,speedup", "twice")]:
        with pytest.raises(GoalError, match=re.escape(words)):
            Goal.parse(bad)


# Retrieval metrics: goals read the one metric list, so nDCG@10 constraints and objectives work like STS's.
RETRIEVAL_POINTS = [
    {"ndcg_retained": 1.0, "ndcg_at_10": 0.61, "speedup": 1.0, "size_mb": 90.9},   # baseline
    {"ndcg_retained": 0.97, "ndcg_at_10": 0.59, "speedup": 2.4, "size_mb": 23.0},  # meets, fastest that does
    {"ndcg_retained": 0.93, "ndcg_at_10": 0.57, "speedup": 3.5, "size_mb": 12.0},  # fastest, misses nDCG
    {"ndcg_retained": None, "ndcg_at_10": None, "speedup": 5.0, "size_mb": 5.0},   # STS-only row: not judged
]


def test_an_ndcg_constraint_parses_and_ranks():
    goal = Goal.parse("ndcg_retained>=0.95;max:speedup")
    assert goal.constraints == (Constraint("ndcg_retained", ">=", 0.95),) and goal.objective == "speedup"
    assert goal.to_text() == "ndcg_retained>=0.95;max:speedup"
    assert goal.describe() == "nDCG@10 retained at least 95.0%; maximise Speedup"
    out = rank(RETRIEVAL_POINTS, goal)
    assert out.best == 1 and out.ties == [1]
    by = {s.index: s for s in out.scores}
    assert by[2].feasible is False and "nDCG@10 retained 93.0% < 95.0%" in by[2].status()
    assert by[3].feasible is None and by[3].status() == "not measured: nDCG@10 retained"


def test_ndcg_as_the_objective_and_in_a_score():
    most_accurate = Goal.parse("size_mb<=30;max:ndcg_at_10")
    assert rank(RETRIEVAL_POINTS, most_accurate).best == 1  # 0.59 beats 0.57; the baseline is too big
    assert Goal.parse("max:ndcg_retained").metrics() == ["ndcg_retained"]
    with pytest.raises(GoalError, match=r"nDCG@10 is better when larger; write max:ndcg_at_10"):
        Goal.parse("min:ndcg_at_10")
    scored = Goal.parse("score:speedup*1,ndcg_retained*3")
    assert scored.weights == (("speedup", 1.0), ("ndcg_retained", 3.0))
    score, missing = objective_score(scored, RETRIEVAL_POINTS[1])
    assert missing == [] and score == pytest.approx(math.log(2.4) + 3 * math.log(0.97))
    assert rank(RETRIEVAL_POINTS, scored).best == 2  # 3.5x speed outweighs 7% of nDCG at weight 3
