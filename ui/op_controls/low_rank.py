"""Low-rank factorization: a fixed rank or an energy fraction, on chosen Linear groups."""
from __future__ import annotations

import streamlit as st

from slimlib.errors import RecipeError
from slimlib.ops.low_rank import LOW_RANK_TARGETS

DEFAULTS = {"mode": "off", "rank": 128, "energy": 0.9, "targets": list(LOW_RANK_TARGETS)}
MODES = {"off": "off", "rank": "fixed rank", "energy": "keep an energy fraction"}
EXPANDED = False


def draw(w, shape) -> dict:
    mode = st.selectbox("Low rank", list(MODES), key=w.seed("mode"), format_func=MODES.get)
    if mode == "rank":
        st.slider("Rank", 8, shape.hidden, step=8, key=w.seed("rank"))
    elif mode == "energy":
        st.slider("Energy kept", 0.5, 0.99, step=0.01, key=w.seed("energy"))
    if mode != "off":
        st.multiselect("Targets", list(LOW_RANK_TARGETS), key=w.seed("targets"))
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    if values["mode"] == "off":
        return None
    targets = [t for t in LOW_RANK_TARGETS if t in values["targets"]]
    if not targets:
        raise RecipeError(f"low rank: choose at least one target ({', '.join(LOW_RANK_TARGETS)})")
    amount = {"rank": int(values["rank"])} if values["mode"] == "rank" else {"energy": float(values["energy"])}
    return {**amount, "targets": targets}


def from_step(step: dict, shape) -> dict:
    mode = "rank" if "rank" in step else "energy"
    return {**DEFAULTS, "mode": mode, mode: step[mode], "targets": list(step["targets"])}
