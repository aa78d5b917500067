"""Vocabulary trim: how many tokens the vocabulary keeps (0 = all)."""
from __future__ import annotations

import streamlit as st

DEFAULTS = {"max_tokens": 0}
EXPANDED = False


def draw(w, shape) -> dict:
    key = w.seed("max_tokens")
    sizes = [0] + [n for n in (2000, 4000, 8000, 12000, 16000, 20000) if n < shape.vocab]
    sizes = sorted(set(sizes) | {w.state.get(key, 0)})
    st.select_slider("Vocabulary kept (0 = all)", sizes, key=key)
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    return {"max_tokens": int(values["max_tokens"])} if int(values["max_tokens"]) > 0 else None


def from_step(step: dict, shape) -> dict:
    return {"max_tokens": step["max_tokens"]}
