"""Attention heads: keep all, N per layer, a global fraction, or the heads chosen on the Heads page."""
from __future__ import annotations

import streamlit as st

DEFAULTS = {"mode": "off", "per_layer": 2, "fraction": 0.25, "heads": {}}
MODES = {"off": "keep all", "per_layer": "N per layer", "fraction": "global fraction",
         "explicit": "chosen on the Heads page"}
EXPANDED = True


def draw(w, shape) -> dict:
    mode = st.selectbox("Prune heads", list(MODES), format_func=MODES.get, key=w.seed("mode"))
    if mode == "per_layer":
        st.slider("Heads removed per layer", 1, max(max(shape.heads) - 1, 1), key=w.seed("per_layer"))
    elif mode == "fraction":
        st.slider("Fraction of all heads removed", 0.05, 0.9, step=0.05, key=w.seed("fraction"))
    elif mode == "explicit":
        chosen = sum(len(v) for v in w.values.get("heads", {}).values())
        st.caption(f"{chosen} heads chosen: click cells on the Heads page to change them.")
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    if values["mode"] == "per_layer":
        return {"per_layer": int(values["per_layer"])}
    if values["mode"] == "fraction":
        return {"fraction": float(values["fraction"])}
    if values["mode"] == "explicit" and any(values["heads"].values()):
        return {"heads": {str(k): sorted(v) for k, v in values["heads"].items() if v}}
    return None


def from_step(step: dict, shape) -> dict:
    if "per_layer" in step:
        return {**DEFAULTS, "mode": "per_layer", "per_layer": step["per_layer"]}
    if "fraction" in step:
        return {**DEFAULTS, "mode": "fraction", "fraction": step["fraction"]}
    return {**DEFAULTS, "mode": "explicit", "heads": {k: list(v) for k, v in step["heads"].items()}}
