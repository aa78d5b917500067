"""`verify`: load an exported folder with every runtime it contains and compare each with the
embeddings written at export time. A user runs it before shipping a model; the export tests use it.

Runtimes other than "sentence-transformers + slimlib" run in a subprocess whose Python cannot
import slimlib (portable_encode.py), so a pass means the folder deploys without this library.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SlimlibError

REFERENCE_NAME = "slimlib_reference.json"
PORTABLE_SCRIPT = Path(__file__).with_name("portable_encode.py")
RUNTIME_TIMEOUT_S = 600
# Fixed sentences: short and long, punctuation, numbers, a non-English word.
SENTENCES = (
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog near the river bank.",
    "How do I reset my password?",
    "Quarterly revenue grew by 12 percent compared with last year.",
    "Short one.",
    "Die Katze schläft auf dem Sofa.",
    "Compression makes a sentence-embedding model smaller and faster, at some cost in accuracy.",
    "42",
)


@dataclass
class RuntimeCheck:
    runtime: str
    min_cosine: float | None
    tolerance: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.min_cosine is not None and self.min_cosine >= self.tolerance

    def line(self) -> str:
        if self.error:
            return f"FAIL  {self.runtime}: {self.error}"
        verdict = "ok  " if self.ok else "FAIL"
        return f"{verdict}  {self.runtime}: min cosine {self.min_cosine:.6f} (needs >= {self.tolerance})"


def precision_of(recipe_steps: list[dict]) -> str:
    """What the exported weights are: fp32, bf16, fp16, int8, int4 (packed), ..., static."""
    for step in recipe_steps:
        if step.get("op") == "static":
            return "static"
    quantize = next((s for s in recipe_steps if s.get("op") == "quantize"), None)
    if quantize is None or quantize.get("bits", 32) == 32:
        return "fp32"
    bits = quantize["bits"]
    if bits == 16:
        return quantize.get("float16", "bf16")
    return "int8" if bits == 8 else f"int{bits}"


def write_reference(st_model, folder: Path, precision: str, blockers: list[str] | None = None) -> None:
    """The exported model's own embeddings of SENTENCES, for `verify` to compare runtimes against,
    and why the folder is not standard (if it is not)."""
    embeddings = np.asarray(st_model.encode(list(SENTENCES), convert_to_numpy=True), dtype=np.float32)
    data = {"sentences": list(SENTENCES), "precision": precision, "standard_blockers": list(blockers or []),
            "embeddings": [[float(x) for x in row] for row in embeddings]}
    (Path(folder) / REFERENCE_NAME).write_text(json.dumps(data), encoding="utf-8")


def tolerance(runtime: str, precision: str) -> float:
    """Minimum cosine a runtime must reach against the reference, by the precision it runs."""
    if runtime in ("onnxruntime", "openvino") and precision in ("bf16", "fp16"):
        return 0.999  # the graph is exported in fp32 from 16-bit weights
    if runtime == "openvino" and precision == "int8":
        return 0.97  # OpenVINO decomposes the int8 graph its own way: measured min 0.98 on MiniLM
    return 0.9999


def _config(folder: Path) -> dict:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def runtimes_in(folder: Path) -> list[str]:
    """The runtimes a folder can be loaded with, from the files it holds."""
    found = []
    if (folder / "modules.json").is_file():
        found.append("sentence-transformers + slimlib" if _config(folder).get("model_type") == "slimlib"
                     else "sentence-transformers")
    if (folder / "tokenizer.json").is_file() and ((folder / "onnx" / "model.onnx").is_file()
                                                  or (folder / "model.onnx").is_file()):
        found.append("onnxruntime")
    if (folder / "openvino" / "model.xml").is_file():
        found.append("openvino")
    if _config(folder).get("model_type") == "model2vec":
        found.append("model2vec")
    return found


def _encode_without_slimlib(runtime: str, folder: Path, sentences: list[str]) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="slimlib-verify-") as tmp:
        sentences_file, out = Path(tmp) / "sentences.json", Path(tmp) / "out.npy"
        sentences_file.write_text(json.dumps(sentences), encoding="utf-8")
        # `import slimlib` fails in this Python: a pass proves the folder loads without it.
        code = ("import runpy, sys; sys.modules['slimlib'] = None; "
                f"sys.argv = ['portable_encode.py'] + {[runtime, str(folder), str(sentences_file), str(out)]!r}; "
                f"runpy.run_path({str(PORTABLE_SCRIPT)!r}, run_name='__main__')")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=RUNTIME_TIMEOUT_S, cwd=tmp)
        if result.returncode != 0:
            last = [line for line in result.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
            raise RuntimeError(last[0][:300])
        return np.load(out)


def _encode_with_slimlib(folder: Path, sentences: list[str]) -> np.ndarray:
    from ..model import slim as _registers_model_type  # noqa: F401  (a slimlib folder names it)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return np.asarray(model.encode(sentences, convert_to_numpy=True), dtype=np.float32)


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


def verify_folder(folder: str | Path, progress=None) -> list[RuntimeCheck]:
    folder = Path(folder)
    if not folder.is_dir():
        raise SlimlibError(f"{folder}: folder not found")
    reference_file = folder / REFERENCE_NAME
    if not reference_file.is_file():
        raise SlimlibError(f"{folder}: no {REFERENCE_NAME}; export the model with `python -m slimlib apply` first")
    reference = json.loads(reference_file.read_text(encoding="utf-8"))
    expected = np.asarray(reference["embeddings"], dtype=np.float32)
    sentences, precision = reference["sentences"], reference.get("precision", "fp32")
    runtimes = runtimes_in(folder)
    if not runtimes:
        raise SlimlibError(f"{folder}: holds no model a known runtime loads (modules.json, model.onnx, openvino/)")
    checks = []
    for number, runtime in enumerate(runtimes):
        if progress:
            progress(f"verify: {runtime}", number / len(runtimes))
        try:
            if runtime == "sentence-transformers + slimlib":
                got = _encode_with_slimlib(folder, sentences)
            else:
                got = _encode_without_slimlib(runtime, folder, sentences)
            if got.shape != expected.shape:
                raise RuntimeError(f"embeddings of shape {got.shape}, expected {expected.shape}")
            checks.append(RuntimeCheck(runtime, _min_cosine(got, expected), tolerance(runtime, precision)))
        except Exception as exc:  # noqa: BLE001 - any failure of a runtime is that runtime's verdict
            checks.append(RuntimeCheck(runtime, None, tolerance(runtime, precision), f"{type(exc).__name__}: {exc}"))
    return checks
