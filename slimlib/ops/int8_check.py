"""int8 that checks itself: compare the int8 graph with fp32 on held-out sentences and keep the
MatMuls that hurt most in fp32 until the embeddings agree.

Why: ONNX Runtime's dynamic int8 (u8 activations x s8 weights) loses accuracy where activations have
large outliers (e.g. the FFN output projections of all-mpnet-base-v2's upper layers), and on CPUs
without VNNI its int16 pair sums saturate (onnxruntime #6004, #14642): mpnet went to cosine 0.015
there. The fix is measured, not assumed: after quantizing, the graph is run against the fp32 graph;
below FIDELITY_FLOOR the MatMuls fed by the widest activations are measured one by one (the network's
fidelity with only that matrix in int8), and the costliest are left in fp32, a few more at a time,
until the floor is met.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from ..measure.hardware import cpu_info
from ..optional import require
from ..paths import cache_dir
from .int8 import quantizable_matmuls, quantize_dynamic_int8

FIDELITY_FLOOR = 0.99  # mean cosine of mean-pooled hidden states, int8 vs fp32
JUDGE_SENTENCES = 64
EXCLUDE_STEPS = (1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64)
MEASURED_CANDIDATES = 16  # matrices whose cost is measured one by one (each is one run of the network)


@dataclass
class Int8Result:
    graph: bytes
    fidelity: float  # after exclusions
    first_fidelity: float  # all MatMuls in int8
    excluded: list[str] = field(default_factory=list)
    matmuls: int = 0
    reduce_range: bool = False

    def note(self) -> str:
        how = ("7-bit weights (reduce_range: no int16 saturation on CPUs without VNNI)" if self.reduce_range
               else "8-bit weights")
        kept = (f"int8 except {len(self.excluded)} of {self.matmuls} matrices kept fp32 for accuracy on this CPU "
                f"(mean cosine to fp32 {self.first_fidelity:.4f} -> {self.fidelity:.4f}, floor {FIDELITY_FLOOR})"
                if self.excluded else
                f"int8 on all {self.matmuls} matrices (mean cosine to fp32 {self.fidelity:.4f}, floor {FIDELITY_FLOOR})")
        return f"{kept}; {how}; checked on {JUDGE_SENTENCES} held-out sentences"


def _session(graph: bytes, extra_outputs: list[str] | None = None):
    from ..model.onnx_session import make_session

    if extra_outputs:
        onnx = require("onnx")
        model = onnx.load_from_string(graph)
        model.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                                  for name in extra_outputs)
        graph = model.SerializeToString()
    return make_session(graph)


def _run(session, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    wanted = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v for k, v in inputs.items() if k in wanted})


def pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.mean(np.sum(a * b, axis=1)))


def rank_matmuls(fp32: bytes, inputs: dict[str, np.ndarray]) -> list[str]:
    """Quantizable MatMuls by the range of their input activations, widest first.

    Dynamic int8 quantizes each activation tensor with one u8 step of range/255, so a MatMul fed by
    outliers (e.g. GELU outputs into FFN output projections) loses the most. On all-mpnet-base-v2 this
    ranking puts 4 of the 5 truly most harmful matrices in its top 9 (a simulated per-node output error
    ranked them far worse), so it only preselects: `sensitivities` then measures the candidates."""
    onnx = require("onnx")
    model = onnx.load_from_string(fp32)
    names = set(quantizable_matmuls(fp32))
    nodes = [n for n in model.graph.node if n.name in names]
    activations = sorted({n.input[0] for n in nodes})
    by_name = dict(zip(activations, _run(_session(fp32, activations), inputs)[1:]))
    mask = inputs["attention_mask"].astype(bool)
    ranges = {n.name: float(np.ptp(np.append(by_name[n.input[0]][mask], 0.0))) for n in nodes}
    return sorted(ranges, key=lambda name: -ranges[name])


def sensitivities(fp32: bytes, candidates: list[str], fidelity, embeddings: bool, reduce_range: bool,
                  check_stop=lambda: None) -> dict[str, float]:
    """For each candidate, the fidelity lost when it ALONE is quantized (measured through the network)."""
    names = quantizable_matmuls(fp32)
    lost = {}
    for name in candidates:
        check_stop()
        alone = quantize_dynamic_int8(fp32, embeddings=False, reduce_range=reduce_range,
                                      exclude=set(names) - {name})
        lost[name] = 1.0 - fidelity(alone)
    return lost


def checked_int8(fp32: bytes, inputs: dict[str, np.ndarray], embeddings: bool, reduce_range: bool,
                 progress=lambda message, fraction: None, check_stop=lambda: None) -> Int8Result:
    """The int8 graph, with as few MatMuls kept fp32 as it takes to reach FIDELITY_FLOOR."""
    mask = inputs["attention_mask"]
    reference = pooled(_run(_session(fp32), inputs)[0], mask)

    def fidelity(graph: bytes) -> float:
        return mean_cosine(reference, pooled(_run(_session(graph), inputs)[0], mask))

    matmuls = quantizable_matmuls(fp32)
    # The search is deterministic for a graph, its settings and the CPU's int8 kernels: remember its
    # verdict, so the same model's int8 is built once (mpnet: minutes) and then in seconds.
    record = _record_path(fp32, embeddings, reduce_range)
    if record.is_file():
        known = json.loads(record.read_text(encoding="utf-8"))
        graph = quantize_dynamic_int8(fp32, embeddings=embeddings, reduce_range=reduce_range,
                                      exclude=set(known["excluded"]))
        return Int8Result(graph, fidelity(graph), known["first"], list(known["excluded"]), len(matmuls), reduce_range)
    result = _search(fp32, inputs, embeddings, reduce_range, fidelity, matmuls, progress, check_stop)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"excluded": result.excluded, "first": result.first_fidelity}), encoding="utf-8")
    return result


def _record_path(fp32: bytes, embeddings: bool, reduce_range: bool):
    features = ",".join(sorted(cpu_info().get("features", [])))
    key = hashlib.sha256(fp32 + f"|{embeddings}|{reduce_range}|{features}|{FIDELITY_FLOOR}".encode()).hexdigest()[:24]
    return cache_dir("int8") / f"{key}.json"


def _search(fp32, inputs, embeddings, reduce_range, fidelity, matmuls, progress, check_stop) -> Int8Result:
    graph = quantize_dynamic_int8(fp32, embeddings=embeddings, reduce_range=reduce_range)
    first = current = fidelity(graph)
    result = Int8Result(graph, first, first, [], len(matmuls), reduce_range)
    if first >= FIDELITY_FLOOR:
        return result
    progress("int8 below the fidelity floor: measuring which matrices cost it", 0.7)
    by_range = rank_matmuls(fp32, inputs)
    candidates = by_range[:MEASURED_CANDIDATES]
    lost = sensitivities(fp32, candidates, fidelity, embeddings, reduce_range, check_stop)
    ranking = sorted(candidates, key=lambda name: -lost[name]) + by_range[MEASURED_CANDIDATES:]
    for count in [k for k in EXCLUDE_STEPS if k < len(ranking)] + [len(ranking)]:
        check_stop()
        progress(f"int8: keeping {count} matrices in fp32", 0.75)
        excluded = ranking[:count]
        graph = quantize_dynamic_int8(fp32, embeddings=embeddings, reduce_range=reduce_range, exclude=set(excluded))
        current = fidelity(graph)
        result = Int8Result(graph, current, first, excluded, len(matmuls), reduce_range)
        if current >= FIDELITY_FLOOR:
            break
    return result
