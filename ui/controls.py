"""The Explore page's sidebar: model picker, evaluation data and one control group per op.

Each op's widgets come from its control module (ui/op_controls/<op>.py), keyed `w.<op>.<name>` and
seeded from the session's config (ui.state).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.model.named import find_named_model, installed_named_models
from slimlib.model.shape import ModelShape
from slimlib.ops.recipe import DEFAULT_MODEL
from slimlib.ops.registry import op_specs

from . import state
from .op_controls import Widgets, control_for
from .evaluation import NO_DATA, STSB_DEV, DataChoice, data_choice, save_upload

OTHER_SOURCES = ("local folder", "Hugging Face hub id")


def model_sources() -> list[str]:
    """The installed named models first (bundled MiniLM, all-mpnet-base-v2 once installed), then the rest."""
    return installed_named_models() + list(OTHER_SOURCES)


def model_picker() -> str:
    """Returns the model name to load; keeps config["model"] in step."""
    cfg = state.config()
    model = cfg.get("model", DEFAULT_MODEL)
    sources = model_sources()
    if "w.model_source" not in st.session_state or st.session_state.get("model_reseed"):
        st.session_state.pop("model_reseed", None)
        named = find_named_model(model)
        looks_local = model.startswith(("/", ".", "~")) or Path(model).expanduser().exists()
        if named is not None and named.name in sources:
            st.session_state["w.model_source"], st.session_state["w.model_text"] = named.name, ""
        else:
            st.session_state["w.model_source"] = OTHER_SOURCES[0] if looks_local else OTHER_SOURCES[1]
            st.session_state["w.model_text"] = model
    source = st.radio("Model", sources, key="w.model_source",
                      help="Named models installed here; `python -m slimlib install-model all-mpnet-base-v2` "
                           "(or `make mpnet`) adds all-mpnet-base-v2.")
    if source not in OTHER_SOURCES:
        name = source
    else:
        hint = "/path/to/sentence-transformers/folder" if source == OTHER_SOURCES[0] else "sentence-transformers/all-mpnet-base-v2"
        name = st.text_input("Folder" if source == OTHER_SOURCES[0] else "Hub id", key="w.model_text", placeholder=hint).strip()
        if not name:
            st.caption("Type a folder or id; the bundled model is used until then.")
            name = DEFAULT_MODEL
    cfg["model"] = name
    return name


DATA_MODES = ("STS Benchmark dev (shared data folder)", "upload a pair file", "a pair file path", "none (fidelity only)")


def data_picker() -> DataChoice:
    """The labelled pairs for STS; fidelity on the project's own sentences is always measured.

    The choice lives in a plain session key ("data.saved"), because a widget's value vanishes when
    another page is shown: the user's changes reach it through on_change callbacks (which a page
    switch never calls), and every run seeds the widgets from it. An upload is kept as a server copy,
    so it survives other pages too; removing the file in the uploader forgets it. Messages name the
    user's file, never the server's copy."""
    saved = st.session_state.setdefault("data.saved", {"mode": DATA_MODES[0] if STSB_DEV.is_file() else DATA_MODES[3],
                                                       "path": "", "upload": None})

    def keep(widget: str, field: str) -> None:
        saved[field] = st.session_state.get(widget)

    def upload_changed() -> None:
        if st.session_state.get("w.data_upload") is None:  # the user removed the file
            saved["upload"] = None

    st.session_state["w.data_mode"] = saved["mode"] if saved.get("mode") in DATA_MODES else DATA_MODES[3]
    st.session_state["w.data_path"] = saved.get("path") or ""
    mode = st.radio("Evaluation data", DATA_MODES, key="w.data_mode", on_change=keep, args=("w.data_mode", "mode"),
                    help="Fidelity (cosine to the original model on the project's sentences) is always measured; "
                         "a labelled pair file adds STS Spearman.")
    saved["mode"] = mode
    try:
        if mode == DATA_MODES[0]:
            return data_choice(str(STSB_DEV), "STS-B dev")
        if mode == DATA_MODES[1]:
            upload = st.file_uploader("Pair file (STS-B TSV, or CSV/TSV with sentence1, sentence2, score)",
                                      type=["csv", "tsv", "txt"], key="w.data_upload", on_change=upload_changed)
            if upload is not None:
                saved["upload"] = (str(save_upload(upload.name, upload.getvalue())), upload.name)
            if saved["upload"] is None:
                st.caption("No file yet: fidelity only.")
                return NO_DATA
            path, name = saved["upload"]
            if upload is None:
                st.caption(f"Using the file uploaded earlier: {name}")
            try:
                return data_choice(path, name, name=name)
            except SlimlibError as exc:  # whatever raised it, the user knows the file by its own name
                raise type(exc)(str(exc).replace(path, name)) from None
        if mode == DATA_MODES[2]:
            path = st.text_input("Pair file path", key="w.data_path", on_change=keep, args=("w.data_path", "path"))
            saved["path"] = path
            return data_choice(path.strip(), Path(path.strip()).name) if path.strip() else NO_DATA
    except SlimlibError as exc:
        st.error(str(exc))
        return NO_DATA
    return NO_DATA


def op_controls(shape: ModelShape) -> dict:
    """Draw every registered op's control, in canonical order; returns the updated config."""
    cfg = state.config()
    restoring = state.take_restore_flag()
    for spec in op_specs():
        control = control_for(spec.name)
        values = {**control.DEFAULTS, **cfg["ops"].get(spec.name, {})}
        with st.expander(spec.title, expanded=getattr(control, "EXPANDED", False)):
            st.caption(spec.summary)
            cfg["ops"][spec.name] = control.draw(Widgets(spec.name, values, restoring, st.session_state), shape)
    return cfg
