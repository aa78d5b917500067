"""Runtimes for deployment: fp32 torch vs ONNX Runtime vs OpenVINO, fp32 and int8, on both real models.

For each installed model (bundled all-MiniLM-L6-v2; all-mpnet-base-v2 after `make mpnet`) the fp32 and
int8 recipes are exported with --onnx --openvino, then every runtime encodes the same STS-B dev
sentences in batches of 32 (tokenizing and pooling included), interleaved round by round in this
process; the table gives the speed ratio against fp32 torch, STS-B dev Spearman and the files' size.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import STSB_DEV, THREADS, describe_machine

ROUNDS = 3
SPEED_SENTENCES = 512
BATCH = 32


def _runtimes(folder_fp32: Path, folder_int8: Path):
    """name -> encode(sentences) callable with its session created once."""
    import onnxruntime as ort
    import openvino as ov
    import torch
    from sentence_transformers import SentenceTransformer

    import slimlib  # noqa: F401
    from slimlib.workflows.portable_encode import _pool, _token_inputs

    torch.set_num_threads(THREADS)

    def ort_encoder(folder: Path):
        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(folder / "onnx" / "model.onnx"), options, providers=["CPUExecutionProvider"])
        wanted = {i.name for i in session.get_inputs()}

        def encode(sentences):
            inputs = _token_inputs(folder, sentences)
            (hidden,) = session.run(None, {k: v for k, v in inputs.items() if k in wanted})[:1]
            return _pool(np.asarray(hidden, dtype=np.float32), inputs["attention_mask"], folder)
        return encode

    def ov_encoder(folder: Path):
        compiled = ov.Core().compile_model(str(folder / "openvino" / "model.xml"), "CPU",
                                           {"INFERENCE_NUM_THREADS": THREADS})
        wanted = {name for port in compiled.inputs for name in port.get_names()}

        def encode(sentences):
            inputs = _token_inputs(folder, sentences)
            hidden = np.asarray(compiled({k: v for k, v in inputs.items() if k in wanted})[compiled.outputs[0]])
            return _pool(hidden.astype(np.float32), inputs["attention_mask"], folder)
        return encode

    torch_model = SentenceTransformer(str(folder_fp32), device="cpu")
    return {
        "fp32 torch": lambda s: torch_model.encode(s, batch_size=BATCH, convert_to_numpy=True),
        "fp32 ONNX Runtime": ort_encoder(folder_fp32),
        "fp32 OpenVINO": ov_encoder(folder_fp32),
        "int8 ONNX Runtime (slimlib, self-checked)": ort_encoder(folder_int8),
        "int8 OpenVINO (same int8 graph)": ov_encoder(folder_int8),
    }


def _batched(encode, sentences):
    return np.concatenate([encode(sentences[i:i + BATCH]) for i in range(0, len(sentences), BATCH)])


def _spearman(encode, pairs) -> float:
    from scipy.stats import spearmanr

    a = _batched(encode, [p.sentence1 for p in pairs])
    b = _batched(encode, [p.sentence2 for p in pairs])
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return 100 * spearmanr(cos, [p.score for p in pairs]).statistic


def _bytes(folder: Path, part: str) -> int:
    paths = {"torch": [p for p in folder.iterdir() if p.suffix in (".safetensors", ".onnx") and p.parent == folder],
             "onnx": [folder / "onnx" / "model.onnx"], "openvino": list((folder / "openvino").iterdir())}[part]
    return sum(p.stat().st_size for p in paths)


def bench_model(model: str) -> None:
    from slimlib.data.pairs import read_pairs
    from slimlib.ops.recipe import FORMAT, Recipe
    from slimlib.workflows.export import export

    pairs = read_pairs(STSB_DEV)
    sentences = list(dict.fromkeys(s for p in pairs for s in (p.sentence1, p.sentence2)))[:SPEED_SENTENCES]
    with tempfile.TemporaryDirectory(prefix="slimlib-bench-runtimes-") as tmp:
        folders = {}
        for name, steps in (("fp32", []), ("int8", [{"op": "quantize", "bits": 8}])):
            recipe = Recipe.from_dict({"format": FORMAT, "base_model": model, "steps": steps})
            folders[name] = export(recipe, Path(tmp) / name, onnx=True, openvino=True, measure=False)
        notes = (folders["int8"] / "README.md").read_text(encoding="utf-8")
        note = next((line for line in notes.splitlines() if "int8 " in line and "matrices" in line), "")
        runtimes = _runtimes(folders["fp32"], folders["int8"])
        for encode in runtimes.values():
            _batched(encode, sentences[:BATCH])  # warm-up
        times = {name: [] for name in runtimes}
        for _ in range(ROUNDS):
            for name, encode in runtimes.items():
                start = time.perf_counter()
                _batched(encode, sentences)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["fp32 torch"])
        print(f"\n### {model}\n\n{note.strip()}\n")
        print("| runtime | speed vs fp32 torch | sentences/s | STS-B dev Spearman | model files MB |")
        print("|---|---|---|---|---|")
        files = {"fp32 torch": _bytes(folders["fp32"], "torch"), "fp32 ONNX Runtime": _bytes(folders["fp32"], "onnx"),
                 "fp32 OpenVINO": _bytes(folders["fp32"], "openvino"),
                 "int8 ONNX Runtime (slimlib, self-checked)": _bytes(folders["int8"], "onnx"),
                 "int8 OpenVINO (same int8 graph)": _bytes(folders["int8"], "openvino")}
        for name, encode in runtimes.items():
            median = statistics.median(times[name])
            print(f"| {name} | {base / median:.2f}x | {len(sentences) / median:.1f} | {_spearman(encode, pairs):.2f} | "
                  f"{files[name] / 1e6:.1f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    from slimlib.model.named import installed_named_models

    print(f"\n## Runtimes — {describe_machine()}\n")
    models = (argv if argv else None) or installed_named_models()
    for model in models:
        bench_model(model)


if __name__ == "__main__":
    main(sys.argv[1:])
