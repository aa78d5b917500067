"""Running an encoder ONNX graph with ONNX Runtime inside slimlib (the int8 backend)."""
from __future__ import annotations

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
