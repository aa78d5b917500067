"""The Heads page marks exactly the heads the prune_heads op removes (one planner for both).

Before, the page planned with its own code: no keep-at-least-one-head cap and an unstable sort, so
a global fraction could show heads the op would not prune."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import PAGES  # noqa: E402


@pytest.mark.parametrize("values", [{"mode": "fraction", "fraction": 0.5}, {"mode": "per_layer", "per_layer": 3}])
def test_heads_page_marks_the_heads_the_op_prunes(values, tmp_path, monkeypatch, minilm):
    from slimlib.ops.importance import head_importance
    from slimlib.ops.prune_heads import plan_global, plan_per_layer
    from ui.config import default_config

    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path))
    config = default_config()
    config["ops"]["prune_heads"].update(values)
    at = AppTest.from_file(str(PAGES / "1_Heads.py"), default_timeout=600)
    at.session_state["config"] = config
    at.session_state["heads.method"] = "magnitude"
    at.run()
    assert not at.exception, at.exception
    symbols = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["marker"]["symbol"]
    marked = {i for i, s in enumerate(symbols) if s == "x"}
    scores = [np.nan_to_num(row, nan=0.0) for row in head_importance(minilm, "magnitude")]
    plan = plan_global(scores, 0.5) if values["mode"] == "fraction" else plan_per_layer(scores, 3)
    heads = max(len(row) for row in scores)
    assert marked == {layer * heads + h for layer, ids in plan.items() for h in ids}
