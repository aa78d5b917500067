"""Process-wide caches: base models and the history store.

`st.cache_resource` hands the SAME object to every session: the base model is only ever read (the
pipeline compresses a deep copy), and the history opens a fresh SQLite connection per call.
"""
from __future__ import annotations

import streamlit as st

from slimlib.history import History
from slimlib.model.base import LoadedBase, load_base
from slimlib.model.shape import ModelShape, model_shape


@st.cache_resource(max_entries=3, show_spinner="Loading the model...")
def base_model(name: str) -> LoadedBase:
    return load_base(name)


def shape_of(base: LoadedBase) -> ModelShape:
    return model_shape(base.model, base.arch)


def history() -> History:
    # Not cached: History is cheap and reads SLIMLIB_DATA_DIR each time (tests point it elsewhere).
    return History()
