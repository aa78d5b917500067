"""Layers: tick the layers to keep, or keep N chosen by importance."""
from __future__ import annotations

import streamlit as st

DEFAULTS = {"mode": "choose", "dropped": [], "keep": 3}
MODES = {"choose": "tick the layers to keep", "keep": "keep N by importance"}
EXPANDED = True


def draw(w, shape) -> dict:
    mode = st.radio("Which layers", list(MODES), horizontal=True, key=w.seed("mode"), format_func=MODES.get)
    values = w.read()
    if mode == "choose":
        st.caption("Layers kept (ticked):")
        cols = st.columns(min(shape.num_layers, 3))  # 3 per row: "layer 10" stays readable in the sidebar
        dropped = set(values["dropped"])
        for i in range(shape.num_layers):
            cols[i % len(cols)].checkbox(f"layer {i}", key=w.seed(f"layer.{i}", i not in dropped),
                                         help=f"untick to remove layer {i}")
        values["dropped"] = [i for i in range(shape.num_layers) if not w.state.get(w.key(f"layer.{i}"), True)]
    else:
        st.slider("Layers kept", 1, shape.num_layers, key=w.seed("keep"))
        values = {**values, "keep": w.state[w.key("keep")]}
    return values


def to_step(values: dict, shape) -> dict | None:
    if values["mode"] == "keep" and int(values["keep"]) < shape.num_layers:
        return {"keep": int(values["keep"])}
    if values["mode"] == "choose" and values["dropped"]:
        return {"layers": sorted(int(i) for i in values["dropped"])}
    return None


def from_step(step: dict, shape) -> dict:
    if "keep" in step:
        return {**DEFAULTS, "mode": "keep", "keep": step["keep"]}
    return {**DEFAULTS, "mode": "choose", "dropped": list(step["layers"])}
