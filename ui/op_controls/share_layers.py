"""Weight sharing: adjacent pairs, all layers as one, or the custom groups of a restored recipe."""
from __future__ import annotations

import streamlit as st

DEFAULTS = {"mode": "off", "groups": None}
MODES = {"off": "off", "pairs": "adjacent pairs (0-1, 2-3, ...)", "all": "all layers share one",
         "custom": "custom groups (from a recipe)"}
EXPANDED = False


def share_groups(mode: str, num_layers: int) -> list[list[int]] | None:
    """Weight-sharing groups for the simple choices the page offers."""
    if mode == "pairs":
        return [[i, i + 1] for i in range(0, num_layers - 1, 2)] or None
    if mode == "all" and num_layers >= 2:
        return [list(range(num_layers))]
    return None


def draw(w, shape) -> dict:
    choices = [m for m in MODES if m != "custom" or w.values.get("groups")]
    st.selectbox("Share weights", choices, key=w.seed("mode"), format_func=MODES.get)
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    groups = values["groups"] if values["mode"] == "custom" else share_groups(values["mode"], shape.num_layers)
    return {"groups": groups} if groups else None


def from_step(step: dict, shape) -> dict:
    for mode in ("pairs", "all"):
        if share_groups(mode, shape.num_layers) == step["groups"]:
            return {"mode": mode, "groups": None}
    return {"mode": "custom", "groups": [list(g) for g in step["groups"]]}
