"""Distillation: recover accuracy by training against the original model's embeddings."""
from __future__ import annotations

import streamlit as st

from slimlib.ops.distill import Distill

DEFAULTS = {"on": False, "steps": Distill.steps, "teacher": ""}  # the recipe default; "" = the original model
EXPANDED = True


def draw(w, shape) -> dict:
    st.checkbox("Distill from the original model", key=w.seed("on"),
                help="Recovers accuracy after structural changes; trains in the background with a progress bar.")
    st.number_input("Distillation steps", 10, 20000, step=50, key=w.seed("steps"))
    st.text_input("Teacher (empty: the original model)", key=w.seed("teacher"),
                  placeholder="all-mpnet-base-v2, a folder or a hub id",
                  help="A bigger model can teach: a teacher of another width is projected onto the student's.")
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    if not values["on"]:
        return None
    teacher = (values.get("teacher") or "").strip()
    return {"steps": int(values["steps"]), **({"teacher": teacher} if teacher else {})}


def from_step(step: dict, shape) -> dict:
    return {"on": True, "steps": step["steps"], "teacher": step.get("teacher") or ""}
