"""The export workflow: apply a recipe and write everything a user takes away.

The folder is a standard BERT/MPNet sentence-transformers folder whenever the compressed shapes
allow it (plain sentence-transformers loads it, no slimlib), the slimlib model type otherwise; with
`onnx` it also holds `onnx/model.onnx` (where sentence-transformers' ONNX backend looks), and it
always holds reference embeddings for `python -m slimlib verify`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SlimlibError
from ..model.files import WRITE_ERRORS, save_model, write_error_reason

ONNX_SUBPATH = Path("onnx") / "model.onnx"


@dataclass
class ExportFormat:
    """How an exported folder loads: standard, or the slimlib type and what prevents standard."""

    standard: bool
    model_type: str
    blockers: list[str] = field(default_factory=list)
    runtimes: list[str] = field(default_factory=list)
    # Folders of Dense modules (e.g. "2_Dense", from distill's "dense" projection): a graph runtime
    # must apply them between pooling and Normalize, so the model card says so.
    dense: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.standard:
            head = (f"standard {self.model_type} sentence-transformers folder: loads with plain "
                    "SentenceTransformer(folder), no slimlib needed")
        else:
            head = ("slimlib model type: load with `import slimlib` before SentenceTransformer(folder); a standard "
                    "config cannot express: " + "; ".join(self.blockers))
        portable = [r for r in self.runtimes if r not in ("sentence-transformers", "sentence-transformers + slimlib")]
        tail = (f"portable forms in the folder: {', '.join(portable)}" if portable else
                "portable forms: add --onnx for an ONNX file that runs with onnxruntime alone")
        return [head, tail]


def describe_folder(folder: Path) -> ExportFormat:
    from .verify import REFERENCE_NAME, runtimes_in

    reference = folder / REFERENCE_NAME
    blockers = json.loads(reference.read_text(encoding="utf-8")).get("standard_blockers", []) if reference.is_file() else []
    config = json.loads((folder / "config.json").read_text(encoding="utf-8")) if (folder / "config.json").is_file() else {}
    model_type = config.get("model_type", "unknown")
    base_type = config.get("base_config", {}).get("model_type", model_type)
    if model_type == "model2vec":
        base_type = "static (model2vec)"
    return ExportFormat(standard=model_type != "slimlib", model_type=base_type, blockers=blockers or [],
                        runtimes=runtimes_in(folder), dense=_dense_modules(folder))


def _dense_modules(folder: Path) -> list[str]:
    modules = folder / "modules.json"
    entries = json.loads(modules.read_text(encoding="utf-8")) if modules.is_file() else []
    return [entry["path"] for entry in entries if entry.get("type", "").endswith("Dense")]


def export(recipe, out: str | Path, onnx: bool = False, data: str | None = None, threads: int | None = None,
           measure: bool = True, progress=None, should_stop=None, openvino: bool = False) -> Path:
    """Apply a recipe and write everything a user takes away: model, recipe, model card, reference
    embeddings, and with `onnx` / `openvino` the portable forms."""
    from ..ops.pipeline import apply_recipe
    from ..report import model_card
    from .evaluate import EvalOptions, evaluate
    from .verify import precision_of, write_reference

    out = Path(out)
    _check_writable(out)
    compressed = apply_recipe(recipe, progress=progress, should_stop=should_stop)
    result = None
    if measure:
        result = evaluate(recipe, EvalOptions(data=data, threads=threads), progress=progress,
                          should_stop=should_stop, compressed=compressed)
    folder = save_model(compressed, out)
    blockers = _blockers(compressed)
    if onnx:
        try:
            write_onnx(compressed, folder)
        except WRITE_ERRORS as exc:
            raise SlimlibError(f"{folder}: could not write the ONNX file ({write_error_reason(exc)})") from None
    try:
        if openvino:
            from .openvino_export import write_openvino

            write_openvino(compressed, folder)
        write_reference(compressed.st_model, folder, precision_of(compressed.recipe.to_dict()["steps"]), blockers)
        (folder / "README.md").write_text(
            model_card.render(compressed.recipe, result, describe_folder(folder), compressed.notes), encoding="utf-8")
    except WRITE_ERRORS as exc:
        raise SlimlibError(f"{folder}: could not finish the export ({write_error_reason(exc)})") from None
    return folder


def _blockers(compressed) -> list[str]:
    from ..model.slim import SlimModel
    from ..model.parts import top_model

    model = top_model(compressed.st_model)
    return model.standard_blockers() if isinstance(model, SlimModel) else []  # static or plain: standard


def write_onnx(compressed, folder: Path) -> Path:
    """onnx/model.onnx (where sentence-transformers' ONNX backend looks; onnxruntime alone runs it):
    the int8 graph when the model runs on ONNX, else an fp32 export (low-bit weights dequantized)."""
    from ..model.static import is_static
    from ..ops.onnx_export import export_onnx_file

    if is_static(compressed.st_model):
        raise SlimlibError("--onnx: a static model has no network to export; it runs with sentence-transformers "
                           "or model2vec (numpy only), both from this folder")
    path = folder / ONNX_SUBPATH
    export_onnx_file(compressed.st_model, path, int8=False)
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return path


def _check_writable(out: Path) -> None:
    """Fail before minutes of work if the destination cannot be written."""
    parent = out.parent if not out.exists() else out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise SlimlibError(f"{out}: cannot write here (no write permission on {parent})")
