"""Process-wide caches: base models, op availability, the history store.

`st.cache_resource` hands the SAME object to every session: the base model is only ever read (the
pipeline compresses a deep copy), and the history opens a fresh SQLite connection per call.
"""
from __future__ import annotations

import importlib
import pkgutil

import streamlit as st

from slimlib.history import History
from slimlib.model.base import BaseModel, load_base
from slimlib.ops.pipeline import model_shape
from slimlib.ops.recipe import ModelShape


@st.cache_resource(max_entries=3, show_spinner="Loading the model...")
def base_model(name: str) -> BaseModel:
    return load_base(name)


def shape_of(base: BaseModel) -> ModelShape:
    return model_shape(base.model, base.arch)


@st.cache_resource(max_entries=1, show_spinner=False)
def available_ops() -> tuple[frozenset[str], dict[str, str]]:
    """Registered ops, and a note for each op module that failed to import (it is being written)."""
    from slimlib.ops import pipeline
    from slimlib import ops

    problems: dict[str, str] = {}
    try:
        pipeline._load_ops()
    except Exception:  # one broken module must not hide the others: import them one by one
        for info in pkgutil.iter_modules(ops.__path__):
            try:
                importlib.import_module(f"{ops.__name__}.{info.name}")
            except Exception as exc:
                problems[info.name] = f"{type(exc).__name__}: {exc}"
    return frozenset(pipeline.OPS), problems


def history() -> History:
    # Not cached: History is cheap and reads SLIMLIB_DATA_DIR each time (tests point it elsewhere).
    return History()
