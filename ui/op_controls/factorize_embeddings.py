"""Embedding factorization: the inner rank of the word-embedding table (0 = off)."""
from __future__ import annotations

import streamlit as st

DEFAULTS = {"rank": 0}
EXPANDED = False


def draw(w, shape) -> dict:
    key = w.seed("rank")
    ranks = [0] + [r for r in (32, 64, 96, 128, 192, 256) if r < shape.hidden]
    ranks = sorted(set(ranks) | {w.state.get(key, 0)})  # a restored rank off the usual list stays choosable
    st.select_slider("Embedding rank (0 = off)", ranks, key=key)
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    return {"rank": int(values["rank"])} if int(values["rank"]) > 0 else None


def from_step(step: dict, shape) -> dict:
    return {"rank": step["rank"]}
