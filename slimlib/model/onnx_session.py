"""Running an encoder ONNX graph with ONNX Runtime inside slimlib (the int8 backend), and encoding
sentences with it the way an exported folder's user does (`deployed_encoder`)."""
from __future__ import annotations

import copy
import weakref

import numpy as np
import torch

from ..errors import ModelLoadError, SlimlibError
from ..optional import require


def make_session(onnx_bytes: bytes, threads: int | None = None):
    """An inference session using as many threads as torch, so speed comparisons are fair."""
    try:
        ort = require("onnxruntime")
    except SlimlibError as missing:  # require's one line, naming the extra
        raise ModelLoadError(f"this model runs on ONNX Runtime; {missing}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting between runs: ORT's idle threads would otherwise spin on the same 2 cores that
    # torch needs for tokenizing, pooling and the fp32 baseline it is timed against (measured on
    # MiniLM: int8 1.48x -> 1.64x end to end, and the baseline itself ran ~10% slower beside it).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # warnings about unused initializers are noise to users
    session = ort.InferenceSession(onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    session.slimlib_threads = options.intra_op_num_threads
    return session


def _as_int64(tensor) -> np.ndarray:
    if isinstance(tensor, torch.Tensor):
        tensor = tensor.detach().cpu().numpy()
    return np.ascontiguousarray(tensor, dtype=np.int64)


def run_session(session, input_ids, attention_mask=None, token_type_ids=None) -> np.ndarray:
    """The encoder's last hidden state (batch, sequence, hidden) as float32."""
    given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
    feed = {}
    for spec in session.get_inputs():
        value = given.get(spec.name)
        if value is None:  # default masks and segment ids, as the torch encoders use them
            filler = np.ones_like if spec.name == "attention_mask" else np.zeros_like
            value = filler(_as_int64(input_ids))
        feed[spec.name] = _as_int64(value)
    (hidden,) = session.run(None, feed)
    return np.asarray(hidden, dtype=np.float32)


class DeployedEncoder:
    """An int8 (ONNX-backed) sentence model encoded as an exported folder's user runs it: `tokenizers`
    with dynamic padding, the ONNX Runtime session, numpy pooling (slimlib/workflows/portable_encode.py
    does the same without slimlib). Nothing of torch or the sentence-transformers wrapper runs per batch.

    Batches are those sentence-transformers' encode makes (sorted by length, `batch_size` each): dynamic
    int8 scales each activation tensor over the whole batch, so a sentence's int8 embedding depends on
    its batch mates (min cosine 0.969 between two batchings of the corpus); the same batches keep the
    embeddings, hence STS and fidelity, those of `SentenceTransformer.encode`."""

    def __init__(self, st_model, slim):
        tokenizer = getattr(st_model.tokenizer, "backend_tokenizer", None)
        if tokenizer is None:
            raise TypeError("no `tokenizers` tokenizer")
        self.tokenizer = copy.deepcopy(tokenizer)  # the model's own settings are not touched
        self.tokenizer.no_padding()  # padding goes to each batch's longest sentence, below
        self.tokenizer.enable_truncation(max_length=int(st_model.max_seq_length))
        pad = getattr(st_model.tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0
        self.st_model, self.slim = st_model, slim
        self.steps = _numpy_steps(list(st_model)[1:])

    def session(self):
        """The model's session, rebuilt when torch's thread count changed (every runtime gets the same)."""
        threads = torch.get_num_threads()
        session = self.slim._session
        if session is None or getattr(session, "slimlib_threads", None) != threads:
            session = self.slim._session = make_session(self.slim.onnx_bytes, threads)
        return session

    def token_inputs(self, sentences: list[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch(sentences)
        shape = (len(encodings), max(len(e.ids) for e in encodings))
        inputs = {"input_ids": np.full(shape, self.pad_id, dtype=np.int64),
                  "attention_mask": np.zeros(shape, dtype=np.int64), "token_type_ids": np.zeros(shape, dtype=np.int64)}
        for row, e in enumerate(encodings):
            n = len(e.ids)
            inputs["input_ids"][row, :n] = e.ids
            inputs["attention_mask"][row, :n] = e.attention_mask
            inputs["token_type_ids"][row, :n] = e.type_ids
        return inputs

    def encode_batch(self, sentences: list[str]) -> np.ndarray:
        session = self.session()
        inputs = self.token_inputs(sentences)
        wanted = {spec.name for spec in session.get_inputs()}  # MPNet graphs take no token_type_ids
        (hidden,) = session.run(None, {k: v for k, v in inputs.items() if k in wanted})[:1]
        out = np.asarray(hidden, dtype=np.float32)
        mask = inputs["attention_mask"]
        for step in self.steps:
            out = step(out, mask)
        return np.asarray(out, dtype=np.float32)

    def encode(self, sentences, batch_size: int) -> np.ndarray:
        sentences = list(sentences)
        if not sentences:
            return np.zeros((0, self.st_model.get_sentence_embedding_dimension() or 0), dtype=np.float32)
        order = np.argsort([-len(s) for s in sentences])  # sentence-transformers' own order (same argsort)
        rows = [self.encode_batch([sentences[i] for i in order[k:k + batch_size]])
                for k in range(0, len(order), batch_size)]
        out = np.empty((len(sentences), rows[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(rows)
        return out


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)


def _normalize(x: np.ndarray, _mask=None) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _numpy_steps(modules) -> list:
    """The modules after the transformer as numpy functions of (values, mask); TypeError for any
    module this path does not compute (the model is then encoded by sentence-transformers)."""
    steps = []
    for module in modules:
        kind = type(module).__name__
        if kind == "Pooling" and not steps:
            mode = module.pooling_mode if isinstance(module.pooling_mode, str) else tuple(module.pooling_mode)
            if mode == "mean" or mode == ("mean",):
                steps.append(_mean_pool)
            elif mode == "cls" or mode == ("cls",):
                steps.append(lambda hidden, _mask: hidden[:, 0])
            else:
                raise TypeError(f"pooling {mode!r}")
        elif kind == "Normalize" and steps:
            steps.append(_normalize)
        else:
            raise TypeError(f"module {kind}")
    if not steps:
        raise TypeError("no Pooling module")
    return steps


_encoders: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # sentence model -> its DeployedEncoder


def deployed_encoder(st_model) -> DeployedEncoder | None:
    """The deployed path of an ONNX-backed sentence model (built once per model), or None: a torch
    model, or modules this path does not compute (those run through sentence-transformers as before)."""
    first = st_model[0] if hasattr(st_model, "__getitem__") and len(st_model) else None
    slim = getattr(first, "model", None)
    if getattr(getattr(slim, "config", None), "backend", None) != "onnx" or getattr(slim, "onnx_bytes", None) is None:
        return None
    encoder = _encoders.get(st_model)
    if encoder is None or encoder.slim is not slim:
        try:
            encoder = DeployedEncoder(st_model, slim)
        except TypeError:
            return None
        _encoders[st_model] = encoder
    return encoder
