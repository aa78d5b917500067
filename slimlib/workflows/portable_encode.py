"""Encode sentences with an exported folder using ONE runtime and nothing of slimlib.

This file imports only numpy, tokenizers and the runtime asked for (onnxruntime, openvino,
sentence-transformers, model2vec), so `verify` runs it as a script in a Python where slimlib is
blocked: what it computes is what a user's deployment computes. It is also the reference snippet
for running an export without slimlib (docs/onnx.md).

    python portable_encode.py RUNTIME FOLDER SENTENCES.json OUT.npy
    RUNTIME: sentence-transformers | onnxruntime | openvino | model2vec
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _max_length(folder: Path) -> int:
    """The model's token limit, as sentence-transformers applies it."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        config = folder / name
        if config.exists():
            value = json.loads(config.read_text(encoding="utf-8")).get(key)
            if isinstance(value, int) and value < 100_000:
                return value
    return 256


def _pooling(folder: Path) -> tuple[str, bool]:
    """(pooling mode, normalize) from the sentence-transformers modules of the folder."""
    mode, normalize = "mean", False
    modules = folder / "modules.json"
    if modules.exists():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            kind = module.get("type", "")
            if kind.endswith("Pooling"):
                config = json.loads((folder / module["path"] / "config.json").read_text(encoding="utf-8"))
                mode = "cls" if config.get("pooling_mode_cls_token") else "mean"
            elif kind.endswith("Normalize"):
                normalize = True
    return mode, normalize


def _pad_id(tokenizer) -> int:
    """The id the model's own tokenizer pads with (sentence-transformers pads with it too)."""
    padding = tokenizer.padding
    if padding and padding.get("pad_id") is not None:
        return int(padding["pad_id"])
    for token in ("[PAD]", "<pad>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0


def _token_inputs(folder: Path, sentences: list[str]) -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    pad_id = _pad_id(tokenizer)
    tokenizer.no_padding()  # some tokenizer.json files pad every batch to a fixed length
    tokenizer.enable_truncation(max_length=_max_length(folder))
    encodings = tokenizer.encode_batch(list(sentences))
    length = max(len(e.ids) for e in encodings)
    shape = (len(encodings), length)
    inputs = {name: np.zeros(shape, dtype=np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
    # Padded positions are masked out of attention and pooling, but the pad token still matters: dynamic
    # int8 scales each activation tensor by its range over every position, padding included, so a
    # different pad id (mpnet pads with 1, not 0) shifts the int8 embeddings (min cosine 0.984 on mpnet).
    inputs["input_ids"][:] = pad_id
    for row, e in enumerate(encodings):
        n = len(e.ids)
        inputs["input_ids"][row, :n] = e.ids
        inputs["attention_mask"][row, :n] = e.attention_mask
        inputs["token_type_ids"][row, :n] = e.type_ids
    return inputs


def _pool(hidden: np.ndarray, mask: np.ndarray, folder: Path) -> np.ndarray:
    mode, normalize = _pooling(folder)
    if mode == "cls":
        out = hidden[:, 0]
    else:
        weights = mask[..., None].astype(np.float32)
        out = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
    if normalize:
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def encode_onnxruntime(folder: Path, sentences: list[str]) -> np.ndarray:
    import onnxruntime as ort

    graph = folder / "onnx" / "model.onnx"
    graph = graph if graph.exists() else folder / "model.onnx"
    inputs = _token_inputs(folder, sentences)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}  # MPNet graphs take no token_type_ids
    (hidden,) = session.run(None, {k: v for k, v in inputs.items() if k in wanted})[:1]
    return _pool(np.asarray(hidden, dtype=np.float32), inputs["attention_mask"], folder)


def encode_openvino(folder: Path, sentences: list[str]) -> np.ndarray:
    import openvino as ov

    inputs = _token_inputs(folder, sentences)
    compiled = ov.Core().compile_model(str(folder / "openvino" / "model.xml"), "CPU")
    wanted = {name for port in compiled.inputs for name in port.get_names()}
    result = compiled({k: v for k, v in inputs.items() if k in wanted})
    hidden = np.asarray(result[compiled.outputs[0]], dtype=np.float32)
    return _pool(hidden, inputs["attention_mask"], folder)


def encode_sentence_transformers(folder: Path, sentences: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return np.asarray(model.encode(sentences, convert_to_numpy=True), dtype=np.float32)


def encode_model2vec(folder: Path, sentences: list[str]) -> np.ndarray:
    from model2vec import StaticModel

    return np.asarray(StaticModel.from_pretrained(str(folder)).encode(sentences), dtype=np.float32)


RUNTIMES = {
    "sentence-transformers": encode_sentence_transformers,
    "onnxruntime": encode_onnxruntime,
    "openvino": encode_openvino,
    "model2vec": encode_model2vec,
}


def main(argv: list[str]) -> int:
    runtime, folder, sentences_file, out = argv
    sentences = json.loads(Path(sentences_file).read_text(encoding="utf-8"))
    np.save(out, RUNTIMES[runtime](Path(folder), sentences))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
