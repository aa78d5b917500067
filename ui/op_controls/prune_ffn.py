"""FFN width: the fraction of each layer's FFN neurons kept."""
from __future__ import annotations

import streamlit as st

DEFAULTS = {"keep": 1.0}  # 1.0 = off
EXPANDED = False


def draw(w, shape) -> dict:
    st.slider("FFN neurons kept (1.0 = all)", 0.1, 1.0, step=0.05, key=w.seed("keep"))
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    keep = float(values["keep"])
    return {"keep": round(keep, 4)} if keep < 1.0 else None


def from_step(step: dict, shape) -> dict:
    return {"keep": step["keep"]}
