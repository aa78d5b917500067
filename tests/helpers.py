"""Helpers tests import (`from helpers import ...`): constants, tiny model folders, small recipes.

Fixtures live in conftest.py, which pytest loads itself; a test module imports from here, not from
conftest.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")

# The markers are applied from what a test uses (conftest's collection hook calls mark_items), so they
# stay true as tests are added: `pytest -m "not slow"` is the quick loop (tiny random models only).
SLOW_FIXTURES = {"minilm", "mpnet", "wide_teacher"}  # the real models (seconds to load, more to compress); a teacher: the test trains
BROWSER_MODULES = {"browser_support"}  # a test module using it starts a Streamlit server and drives Chromium


def uses_browser(module) -> bool:
    """True when the test module imported something from a browser-driving helper module."""
    return any(getattr(value, "__module__", None) in BROWSER_MODULES for value in vars(module).values())


def mark_items(items) -> None:
    """slow: uses a real model (directly or through another fixture) or starts a server and a browser;
    browser: drives Chromium. Tests that load the bundled model by name carry @pytest.mark.slow."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        named = {value for value in params.values() if isinstance(value, str)}  # a fixture param "minilm"
        if SLOW_FIXTURES & (set(getattr(item, "fixturenames", ())) | named):
            item.add_marker(pytest.mark.slow)
        module = getattr(item, "module", None)
        if module is not None and uses_browser(module):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def build_tiny_model(folder: Path, model_type: str, layers: int = 3, heads: int = 4, hidden: int = 64,
                     intermediate: int = 128, seed: int = 0, dropout: float = 0.1) -> Path:
    """Write a tiny random sentence-transformers model folder of the given architecture (dropout: the
    configs' default 0.1 for hidden states and attention)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel

    from slimlib.model.base import bundled_model_path

    torch.manual_seed(seed)
    common = dict(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  intermediate_size=intermediate, max_position_embeddings=128,
                  hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    if model_type == "bert":
        hf = BertModel(BertConfig(**common), add_pooling_layer=False)
    elif model_type == "mpnet":
        hf = MPNetModel(MPNetConfig(**common), add_pooling_layer=False)
    else:
        raise ValueError(model_type)
    hf_dir = folder / "hf"
    hf.save_pretrained(hf_dir)
    for name in TOKENIZER_FILES:
        shutil.copy(Path(bundled_model_path()) / name, hf_dir / name)
    transformer = Transformer(str(hf_dir), max_seq_length=64)
    st = SentenceTransformer(modules=[transformer, Pooling(hidden, "mean")], device="cpu")
    out = folder / "st"
    st.save(str(out))
    return out


def dense_distill(teacher: Path, **settings) -> dict:
    """A distill step of a few seconds on a tiny model (enough for the loss to fall) that learns a
    Dense projection onto `teacher`'s width: with `wide_teacher`, 96-dim embeddings from a 64-wide student."""
    return {"op": "distill", "steps": 20, "lr": 1e-3, "batch_size": 16, "max_seq_length": 32,
            "teacher": str(teacher), "projection": "dense", **settings}


SAMPLE_SENTENCES = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog near the river bank.",
    "How do I reset my password?",
    "Quarterly revenue grew by 12 percent compared with last year.",
    "Short one.",
]
