"""The Explore page's sidebar: model picker, evaluation data and one control group per op.

Widgets are keyed `w.<config name>` and seeded from the session's config (ui.state); an op that
is not registered in this build is drawn disabled with a note instead of failing.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.measure.hardware import bit_width_advice
from slimlib.ops.recipe import DEFAULT_MODEL, LOW_RANK_TARGETS, ModelShape

from . import state
from .evaluation import NO_DATA, STSB_DEV, DataChoice, data_choice, save_upload

OP_TITLES = {
    "prune_heads": "Attention heads", "drop_layers": "Layers", "prune_ffn": "FFN width", "low_rank": "Low-rank factorization",
    "factorize_embeddings": "Embedding factorization", "trim_vocab": "Vocabulary trim", "share_layers": "Weight sharing",
    "distill": "Distillation (recovery)", "quantize": "Quantization",
}
# Config entries drawn by generic widgets (read back after drawing); the rest are handled apart.
WIDGET_FIELDS = ("heads_mode", "heads_per_layer", "heads_fraction", "layers_mode", "layers_keep", "ffn_keep",
                 "low_rank_mode", "low_rank_rank", "low_rank_energy", "low_rank_targets", "embedding_rank",
                 "vocab_tokens", "share", "bits", "distill", "distill_steps")
MODEL_SOURCES = ("bundled all-MiniLM-L6-v2", "local folder", "Hugging Face hub id")


def model_picker() -> str:
    """Returns the model name to load; keeps config["model"] in step."""
    cfg = state.config()
    model = cfg.get("model", DEFAULT_MODEL)
    if "w.model_source" not in st.session_state or st.session_state.get("model_reseed"):
        st.session_state.pop("model_reseed", None)
        bundled = model.lower() in ("all-minilm-l6-v2", "default", "sentence-transformers/all-minilm-l6-v2")
        looks_local = model.startswith(("/", ".", "~")) or Path(model).expanduser().exists()
        st.session_state["w.model_source"] = MODEL_SOURCES[0] if bundled else MODEL_SOURCES[1] if looks_local else MODEL_SOURCES[2]
        st.session_state["w.model_text"] = "" if bundled else model
    source = st.radio("Model", MODEL_SOURCES, key="w.model_source")
    if source == MODEL_SOURCES[0]:
        name = DEFAULT_MODEL
    else:
        hint = "/path/to/sentence-transformers/folder" if source == MODEL_SOURCES[1] else "sentence-transformers/all-mpnet-base-v2"
        name = st.text_input("Folder" if source == MODEL_SOURCES[1] else "Hub id", key="w.model_text", placeholder=hint).strip()
        if not name:
            st.caption("Type a folder or id; the bundled model is used until then.")
            name = DEFAULT_MODEL
    cfg["model"] = name
    return name


DATA_MODES = ("STS Benchmark dev (shared data folder)", "upload a pair file", "a pair file path", "none (fidelity only)")


def data_picker() -> DataChoice:
    """The labelled pairs for STS; fidelity on the project's own sentences is always measured."""
    # Widget values vanish when another page is shown: keep the choice in a plain key too.
    saved = st.session_state.setdefault("data.saved", {"mode": DATA_MODES[0] if STSB_DEV.is_file() else DATA_MODES[3],
                                                       "path": "", "upload": None})
    if "w.data_mode" not in st.session_state:
        st.session_state["w.data_mode"] = saved["mode"]
    if "w.data_path" not in st.session_state:
        st.session_state["w.data_path"] = saved["path"]
    mode = st.radio("Evaluation data", DATA_MODES, key="w.data_mode",
                    help="Fidelity (cosine to the original model on the project's sentences) is always measured; "
                         "a labelled pair file adds STS Spearman.")
    saved["mode"] = mode
    try:
        if mode == DATA_MODES[0]:
            return data_choice(str(STSB_DEV), "STS-B dev")
        if mode == DATA_MODES[1]:
            upload = st.file_uploader("Pair file (STS-B TSV, or CSV/TSV with sentence1, sentence2, score)",
                                      type=["csv", "tsv", "txt"], key="w.data_upload")
            if upload is not None:
                saved["upload"] = (str(save_upload(upload.name, upload.getvalue())), upload.name)
            if saved["upload"] is None:
                st.caption("No file yet: fidelity only.")
                return NO_DATA
            path, name = saved["upload"]
            if upload is None:
                st.caption(f"Using the file uploaded earlier: {name}")
            return data_choice(path, name)
        if mode == DATA_MODES[2]:
            path = st.text_input("Pair file path", key="w.data_path").strip()
            saved["path"] = path
            return data_choice(path, Path(path).name) if path else NO_DATA
    except SlimlibError as exc:
        st.error(str(exc))
        return NO_DATA
    return NO_DATA


def _unavailable(op: str, available: frozenset[str], problems: dict[str, str]) -> bool:
    if op in available:
        return False
    st.caption(f":grey[{OP_TITLES[op]}: not available in this build yet (the `{op}` op is not registered).]")
    return True


def op_controls(shape: ModelShape, available: frozenset[str], problems: dict[str, str]) -> dict:
    """Draw every op's controls; returns the updated config."""
    state.seed_widgets(WIDGET_FIELDS)
    cfg = state.config()
    seed_layer_boxes(shape.num_layers)
    most_heads = max(shape.heads) if shape.heads else 1

    with st.expander(OP_TITLES["prune_heads"], expanded=True):
        off = _unavailable("prune_heads", available, problems)
        modes = ["off", "per_layer", "fraction", "explicit"]
        labels = {"off": "keep all", "per_layer": "N per layer", "fraction": "global fraction", "explicit": "chosen on the Heads page"}
        mode = st.selectbox("Prune heads", modes, format_func=labels.get, key="w.heads_mode", disabled=off)
        if mode == "per_layer":
            st.slider("Heads removed per layer", 1, max(most_heads - 1, 1), key="w.heads_per_layer", disabled=off)
        elif mode == "fraction":
            st.slider("Fraction of all heads removed", 0.05, 0.9, step=0.05, key="w.heads_fraction", disabled=off)
        elif mode == "explicit":
            chosen = sum(len(v) for v in cfg.get("heads_explicit", {}).values())
            st.caption(f"{chosen} heads chosen: click cells on the Heads page to change them.")

    with st.expander(OP_TITLES["drop_layers"], expanded=True):
        off = _unavailable("drop_layers", available, problems)
        mode = st.radio("Which layers", ["choose", "keep"], horizontal=True, key="w.layers_mode", disabled=off,
                        format_func={"choose": "tick the layers to keep", "keep": "keep N by importance"}.get)
        if mode == "choose":
            cols = st.columns(min(shape.num_layers, 6))
            for i in range(shape.num_layers):
                cols[i % len(cols)].checkbox(f"{i}", key=f"w.layer.{i}", disabled=off, help=f"keep layer {i}")
        else:
            st.slider("Layers kept", 1, shape.num_layers, key="w.layers_keep", disabled=off)

    with st.expander(OP_TITLES["prune_ffn"]):
        off = _unavailable("prune_ffn", available, problems)
        st.slider("FFN neurons kept (1.0 = all)", 0.1, 1.0, step=0.05, key="w.ffn_keep", disabled=off)

    with st.expander(OP_TITLES["low_rank"]):
        off = _unavailable("low_rank", available, problems)
        mode = st.selectbox("Low rank", ["off", "rank", "energy"], key="w.low_rank_mode", disabled=off,
                            format_func={"off": "off", "rank": "fixed rank", "energy": "keep an energy fraction"}.get)
        if mode == "rank":
            st.slider("Rank", 8, shape.hidden, step=8, key="w.low_rank_rank", disabled=off)
        elif mode == "energy":
            st.slider("Energy kept", 0.5, 0.99, step=0.01, key="w.low_rank_energy", disabled=off)
        if mode != "off":
            st.multiselect("Targets", list(LOW_RANK_TARGETS), key="w.low_rank_targets", disabled=off)

    with st.expander(OP_TITLES["factorize_embeddings"]):
        off = _unavailable("factorize_embeddings", available, problems)
        ranks = [0] + [r for r in (32, 64, 96, 128, 192, 256) if r < shape.hidden]
        if st.session_state.get("w.embedding_rank") not in ranks:
            ranks = sorted(set(ranks) | {st.session_state.get("w.embedding_rank", 0)})
        st.select_slider("Embedding rank (0 = off)", ranks, key="w.embedding_rank", disabled=off)

    with st.expander(OP_TITLES["trim_vocab"]):
        off = _unavailable("trim_vocab", available, problems)
        sizes = [0] + [n for n in (2000, 4000, 8000, 12000, 16000, 20000) if n < shape.vocab]
        if st.session_state.get("w.vocab_tokens") not in sizes:
            sizes = sorted(set(sizes) | {st.session_state.get("w.vocab_tokens", 0)})
        st.select_slider("Vocabulary kept (0 = all)", sizes, key="w.vocab_tokens", disabled=off)

    with st.expander(OP_TITLES["share_layers"]):
        off = _unavailable("share_layers", available, problems)
        choices = ["off", "pairs", "all"] + (["custom"] if st.session_state.get("w.share") == "custom" else [])
        st.selectbox("Share weights", choices, key="w.share", disabled=off,
                     format_func={"off": "off", "pairs": "adjacent pairs (0-1, 2-3, ...)", "all": "all layers share one",
                                  "custom": "custom groups (from a recipe)"}.get)

    with st.expander(OP_TITLES["quantize"], expanded=True):
        off = _unavailable("quantize", available, problems)
        st.select_slider("Weight bits (32 = off)", [32, 16, 8, 4, 3, 2], key="w.bits", disabled=off)
        st.caption(bit_width_advice())

    with st.expander(OP_TITLES["distill"], expanded=True):
        off = _unavailable("distill", available, problems)
        st.checkbox("Distill from the original model", key="w.distill", disabled=off,
                    help="Recovers accuracy after structural changes; trains in the background with a progress bar.")
        st.number_input("Distillation steps", 10, 20000, step=50, key="w.distill_steps", disabled=off)

    cfg = state.read_widgets(WIDGET_FIELDS)
    cfg["layers_dropped"] = [i for i in range(shape.num_layers) if not st.session_state.get(f"w.layer.{i}", True)]
    return cfg


def seed_layer_boxes(num_layers: int) -> None:
    """Layer checkboxes mirror config["layers_dropped"] (ticked = kept)."""
    cfg = state.config()
    dropped = set(cfg.get("layers_dropped", []))
    reseed = st.session_state.pop("layers_reseed", False)
    for i in range(num_layers):
        key = f"w.layer.{i}"
        if reseed or key not in st.session_state:
            st.session_state[key] = i not in dropped
