"""Distillation: recover accuracy by training against the original model's embeddings."""
from __future__ import annotations

import streamlit as st

from slimlib.ops.distill import Distill

DEFAULTS = {"on": False, "steps": Distill.steps}  # the recipe default
EXPANDED = True


def draw(w, shape) -> dict:
    st.checkbox("Distill from the original model", key=w.seed("on"),
                help="Recovers accuracy after structural changes; trains in the background with a progress bar.")
    st.number_input("Distillation steps", 10, 20000, step=50, key=w.seed("steps"))
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    return {"steps": int(values["steps"])} if values["on"] else None


def from_step(step: dict, shape) -> dict:
    return {"on": True, "steps": step["steps"]}
