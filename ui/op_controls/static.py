"""Static embeddings: replace the network by one vector per token (the far fast end of the frontier)."""
from __future__ import annotations

import streamlit as st

from slimlib.model.static import DEFAULT_DIMS, DEFAULT_TRAIN_STEPS, TABLE_DTYPES

DEFAULTS = {"on": False, "dims": DEFAULT_DIMS, "table_dtype": "int8", "train_steps": DEFAULT_TRAIN_STEPS}
EXPANDED = False


def draw(w, shape) -> dict:
    st.checkbox("Distil into static embeddings", key=w.seed("on"),
                help="Builds a token table from the model the steps above made; takes a minute or more.")
    st.select_slider("Dimensions", [d for d in (32, 64, 96, 128, 192, 256) if d <= shape.hidden] or [shape.hidden],
                     key=w.seed("dims"))
    st.selectbox("Table stored as", list(TABLE_DTYPES), key=w.seed("table_dtype"))
    st.number_input("Training steps (0 = none)", 0, 5000, step=100, key=w.seed("train_steps"))
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    if not values["on"]:
        return None
    return {"dims": int(values["dims"]), "table_dtype": values["table_dtype"], "train_steps": int(values["train_steps"])}


def from_step(step: dict, shape) -> dict:
    return {"on": True, "dims": step.get("dims", DEFAULT_DIMS), "table_dtype": step.get("table_dtype", "int8"),
            "train_steps": step.get("train_steps", DEFAULT_TRAIN_STEPS)}
