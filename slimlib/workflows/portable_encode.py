"""Encode sentences with an exported folder using ONE runtime and nothing of slimlib.

This file imports only numpy, tokenizers and the runtime asked for (onnxruntime, openvino,
sentence-transformers, model2vec), plus safetensors when the model has a Dense layer, so `verify`
runs it as a script in a Python where slimlib is blocked: what it computes is what a user's
deployment computes. It is also the reference snippet for running an export without slimlib
(docs/runtimes.md).

A graph (ONNX, OpenVINO) computes only the transformer's token vectors; the modules after it in
modules.json (Pooling, Dense layers such as distill's "dense" projection, Normalize) run here in
numpy, in their order.

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


def _modules(folder: Path) -> list[dict]:
    """The folder's sentence-transformers modules in order; none for a bare graph + tokenizer folder."""
    path = folder / "modules.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def _pool(hidden: np.ndarray, mask: np.ndarray, config: dict) -> np.ndarray:
    if config.get("pooling_mode_cls_token"):
        return hidden[:, 0]
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


# Dense activations by the name sentence-transformers saves: Identity is what slimlib's distill
# inserts, Tanh is Dense's default (also when the config names none).
TANH = "torch.nn.modules.activation.Tanh"
DENSE_ACTIVATIONS = {"torch.nn.modules.linear.Identity": lambda x: x, TANH: np.tanh}


def _dense(path: Path, x: np.ndarray) -> np.ndarray:
    """A sentence-transformers Dense module (its folder `path`): activation(x @ W.T + b)."""
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    activation = config.get("activation_function", TANH)
    if activation not in DENSE_ACTIVATIONS:
        raise ValueError(f"{path}: Dense activation {activation!r} is not supported here "
                         f"(supported: {', '.join(sorted(DENSE_ACTIVATIONS))})")
    # A residual, or a Dense reading or writing other features than the sentence embedding, is more
    # than the projection computed below.
    features = {config.get(key) or "sentence_embedding" for key in ("module_input_name", "module_output_name")}
    if config.get("use_residual") or features != {"sentence_embedding"}:
        raise ValueError(f"{path}: only a Dense on the sentence embedding without residual is supported here")
    weights_file = path / "model.safetensors"
    if not weights_file.is_file():
        raise ValueError(f"{path}: no model.safetensors (this script reads Dense weights from safetensors only)")
    from safetensors.numpy import load_file

    weights = load_file(str(weights_file))
    out = x @ weights["linear.weight"].astype(np.float32).T
    if "linear.bias" in weights:
        out = out + weights["linear.bias"].astype(np.float32)
    return DENSE_ACTIVATIONS[activation](out)


def _sentence_embeddings(hidden: np.ndarray, mask: np.ndarray, folder: Path) -> np.ndarray:
    """What sentence-transformers computes from the graph's token vectors: the modules after the
    first (the transformer, which the graph is), in order. A folder without modules.json is mean pooled."""
    modules = _modules(folder)
    if not modules:
        return _pool(hidden, mask, {}).astype(np.float32)
    out = None
    for module in modules[1:]:
        kind, path = module.get("type", ""), folder / module.get("path", "")
        if kind.endswith("Pooling"):
            out = _pool(hidden, mask, json.loads((path / "config.json").read_text(encoding="utf-8")))
        elif out is None:  # Dense and Normalize act on the pooled vector
            raise ValueError(f"{path}: module {kind!r} comes before any Pooling module")
        elif kind.endswith("Dense"):
            out = _dense(path, out)
        elif kind.endswith("Normalize"):
            out = _normalize(out)
        else:  # skipping it would give embeddings the model does not give
            raise ValueError(f"{path}: module {kind!r} is not supported by this script")
    if out is None:
        raise ValueError(f"{folder}: modules.json has no Pooling module")
    return np.asarray(out, dtype=np.float32)


def encode_onnxruntime(folder: Path, sentences: list[str]) -> np.ndarray:
    import onnxruntime as ort

    graph = folder / "onnx" / "model.onnx"
    graph = graph if graph.exists() else folder / "model.onnx"
    inputs = _token_inputs(folder, sentences)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}  # MPNet graphs take no token_type_ids
    (hidden,) = session.run(None, {k: v for k, v in inputs.items() if k in wanted})[:1]
    return _sentence_embeddings(np.asarray(hidden, dtype=np.float32), inputs["attention_mask"], folder)


def encode_openvino(folder: Path, sentences: list[str]) -> np.ndarray:
    import openvino as ov

    inputs = _token_inputs(folder, sentences)
    compiled = ov.Core().compile_model(str(folder / "openvino" / "model.xml"), "CPU")
    wanted = {name for port in compiled.inputs for name in port.get_names()}
    result = compiled({k: v for k, v in inputs.items() if k in wanted})
    hidden = np.asarray(result[compiled.outputs[0]], dtype=np.float32)
    return _sentence_embeddings(hidden, inputs["attention_mask"], folder)


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
