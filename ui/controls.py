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
from .evaluation import CRANFIELD, NO_DATA, STSB_DEV, DataChoice, data_choice, retrieval_choice, save_upload

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


# The mode names are the saved choice's values (the Export page and tests read them): keep them stable.
STSB_MODE, CRANFIELD_MODE = "STS Benchmark dev (shared data folder)", "Cranfield retrieval (shared data folder)"
UPLOAD_MODE, PATH_MODE, NONE_MODE = "upload a pair file", "a pair file path", "none (fidelity only)"
DATA_MODES = (STSB_MODE, CRANFIELD_MODE, UPLOAD_MODE, PATH_MODE, NONE_MODE)
MODE_CAPTIONS = {
    STSB_MODE: "STS Spearman on 1,500 labelled pairs",
    CRANFIELD_MODE: "retrieval nDCG@10 / Recall@10 / MRR@10 (BEIR layout)",
    UPLOAD_MODE: "a CSV/TSV of scored pairs, or a .zip of a BEIR retrieval folder",
    PATH_MODE: "a pair file, or a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)",
    NONE_MODE: "fidelity to the original only",
}
LAST_GOOD_DATA = "data.last_good"  # the last choice that read cleanly: kept while a new one is malformed


def data_modes() -> tuple[str, ...]:
    """The modes offered: the built-in Cranfield folder only where it exists."""
    return tuple(m for m in DATA_MODES if m != CRANFIELD_MODE or CRANFIELD.is_dir())


def _chosen_data(mode: str, saved: dict) -> DataChoice:
    """The data of a mode (raises DataFileError with one line naming the user's file or folder)."""
    if mode == STSB_MODE:
        return data_choice(str(STSB_DEV), "STS-B dev")
    if mode == CRANFIELD_MODE:
        return retrieval_choice(CRANFIELD, CRANFIELD.name)
    if mode == UPLOAD_MODE:
        upload = st.file_uploader("Pair file (STS-B TSV, or CSV/TSV with sentence1, sentence2, score), or a .zip of "
                                  "a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)",
                                  type=["csv", "tsv", "txt", "zip"], key="w.data_upload",
                                  on_change=_upload_changed, args=(saved,))
        if upload is not None:
            saved["upload"] = None  # until the new file is kept: a bad one never leaves the old one in use
            saved["upload"] = (str(save_upload(upload.name, upload.getvalue())), upload.name)
        if saved["upload"] is None:
            st.caption("No file yet: fidelity only.")
            return NO_DATA
        path, name = saved["upload"]
        if upload is None:
            st.caption(f"Using the file uploaded earlier: {name}")
        label = Path(name).stem if name.lower().endswith(".zip") else name
        try:
            return data_choice(path, label, name=name)
        except SlimlibError as exc:  # whatever raised it, the user knows the file by its own name
            raise type(exc)(str(exc).replace(path, name)) from None
    if mode == PATH_MODE:
        path = st.text_input("Pair file or BEIR folder path", key="w.data_path", on_change=_keep,
                             args=(saved, "w.data_path", "path"),
                             help="A CSV/TSV of scored pairs (STS), or a folder with corpus.jsonl, queries.jsonl and "
                                  "qrels/test.tsv (retrieval); the kind is detected.")
        saved["path"] = path
        path = path.strip()
        return data_choice(path, Path(path).name or path) if path else NO_DATA
    return NO_DATA


def _keep(saved: dict, widget: str, field: str) -> None:
    saved[field] = st.session_state.get(widget)


def _upload_changed(saved: dict) -> None:
    if st.session_state.get("w.data_upload") is None:  # the user removed the file
        saved["upload"] = None


def data_picker() -> DataChoice:
    """The evaluation data: labelled pairs for STS or a BEIR folder for retrieval; fidelity on the
    project's own sentences is always measured.

    The choice lives in a plain session key ("data.saved"), because a widget's value vanishes when
    another page is shown: the user's changes reach it through on_change callbacks (which a page
    switch never calls), and every run seeds the widgets from it. An upload is kept as a server copy
    (a .zip unpacked), so it survives other pages too; removing the file in the uploader forgets it.
    Messages name the user's file, never the server's copy. A malformed file or folder shows its
    one-line error and the evaluations keep the previous choice."""
    modes = data_modes()
    saved = st.session_state.setdefault("data.saved", {"mode": STSB_MODE if STSB_DEV.is_file() else NONE_MODE,
                                                       "path": "", "upload": None})
    saved.setdefault("upload", None)
    st.session_state["w.data_mode"] = saved["mode"] if saved.get("mode") in modes else NONE_MODE
    st.session_state["w.data_path"] = saved.get("path") or ""
    mode = st.radio("Evaluation data", modes, key="w.data_mode", on_change=_keep, args=(saved, "w.data_mode", "mode"),
                    captions=[MODE_CAPTIONS[m] for m in modes],
                    help="Fidelity (cosine to the original model on the project's sentences) is always measured; "
                         "a labelled pair file adds STS Spearman, a BEIR retrieval folder nDCG@10, Recall@10 and "
                         "MRR@10 (exact search over its corpus).")
    saved["mode"] = mode
    try:
        choice = _chosen_data(mode, saved)
    except SlimlibError as exc:
        st.error(str(exc))
        previous = st.session_state.get(LAST_GOOD_DATA, NO_DATA)
        st.caption(f"Still evaluating on the previous data: {previous.label}.")
        return previous
    st.session_state[LAST_GOOD_DATA] = choice
    return choice


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
