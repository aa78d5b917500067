"""Distillation: recover accuracy by training against the original model's embeddings."""
from __future__ import annotations

import streamlit as st

from slimlib.ops.distill import Distill
from slimlib.ops.training import SIMILARITY_LOSS as SIMILARITY

# The recipe defaults; teacher "" = the original model
# With a teacher the control proposes its similarities (the recipe's loss "similarity") with the original
# as a second target (base_weight 1): mpnet teaching MiniLM measured best that way (STS-B dev, README,
# Distillation): 6 layers 100.4% of MiniLM's Spearman against 99.5% through a Dense projection with the
# same second target and 99.0% without; 3 layers 98.8% against 96.6% (Dense) and 96.3% (the recipe's "pca"),
# and 99.2% with 3,000 steps instead of the default 1,000.
DEFAULTS = {"on": False, "steps": Distill.steps, "teacher": "", "projection": SIMILARITY, "base_weight": 1.0}
EXPANDED = True
# How the student meets a teacher: the two projections, or (the recipe's loss "similarity") the teacher's
# similarities between sentences, which needs no projection at any width.
PROJECTIONS = {"pca": "PCA of the teacher's embeddings (student keeps its width)",
               "dense": "Dense layer onto the teacher's width (saved with the model)",
               SIMILARITY: "the teacher's similarities between sentences (student keeps its width)"}


def draw(w, shape) -> dict:
    st.checkbox("Distill from the original model", key=w.seed("on"),
                help="Recovers accuracy after structural changes; trains in the background with a progress bar.")
    st.number_input("Distillation steps", 10, 20000, step=50, key=w.seed("steps"),
                    help="The default 1,000 recover most of what MiniLM's compression costs in about 5-9 minutes "
                         "on 2 cores; a small student taught by a bigger model keeps gaining up to about 3,000.")
    st.text_input("Teacher (empty: the original model)", key=w.seed("teacher"),
                  placeholder="all-mpnet-base-v2, a folder or a hub id",
                  help="A bigger model can teach, at any width: how the student learns from it is chosen below.")
    st.selectbox("The student learns from the teacher", list(PROJECTIONS), key=w.seed("projection"),
                 format_func=PROJECTIONS.get,
                 help="Its embeddings (a projection is used only when the teacher's width differs from the "
                      "student's) or its cosine similarities between the sentences of each batch.")
    st.number_input("With a teacher: weight of the original's own embeddings (0 = off)", 0.0, 100.0, step=0.5,
                    key=w.seed("base_weight"),
                    help="A second target: the student's own embedding keeps close to the original model's "
                         "while it learns the teacher's view (through the projection).")
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    if not values["on"]:
        return None
    teacher = (values.get("teacher") or "").strip()
    # How it learns only matters with a teacher; without one it is left to the recipe (or its default).
    if not teacher:
        return {"steps": int(values["steps"])}
    how = values.get("projection") or Distill.projection
    learns = {"loss": SIMILARITY} if how == SIMILARITY else {"projection": how}
    return {"steps": int(values["steps"]), "teacher": teacher, **learns,
            "base_weight": float(values.get("base_weight") or 0.0)}


def from_step(step: dict, shape) -> dict:
    return {"on": True, "steps": step["steps"], "teacher": step.get("teacher") or "",
            "projection": _how_it_learns(step),
            "base_weight": (step.get("base_weight") or Distill.base_weight) if step.get("teacher") else DEFAULTS["base_weight"]}


def _how_it_learns(step: dict) -> str:
    if not step.get("teacher"):
        return DEFAULTS["projection"]  # unused without a teacher: the control keeps proposing its own
    if step.get("loss") == SIMILARITY:
        return SIMILARITY
    return step.get("projection") or Distill.projection  # no projection in the step: the recipe default
