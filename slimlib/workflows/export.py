"""The export workflow: apply a recipe and write everything a user takes away."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import SlimlibError
from ..model.files import WRITE_ERRORS, save_model, write_error_reason


def export(recipe, out: str | Path, onnx: bool = False, data: str | None = None, threads: int | None = None,
           measure: bool = True, progress=None, should_stop=None) -> Path:
    """Apply a recipe and write everything a user takes away: model, recipe, model card, ONNX file."""
    from ..report import model_card
    from .evaluate import EvalOptions, evaluate
    from ..ops.pipeline import apply_recipe

    out = Path(out)
    _check_writable(out)
    compressed = apply_recipe(recipe, progress=progress, should_stop=should_stop)
    result = None
    if measure:
        result = evaluate(recipe, EvalOptions(data=data, threads=threads), progress=progress,
                          should_stop=should_stop, compressed=compressed)
    folder = save_model(compressed, out)
    onnx_name = None
    if onnx:
        try:
            onnx_name = write_onnx(compressed, folder)
        except WRITE_ERRORS as exc:
            raise SlimlibError(f"{folder}: could not write the ONNX file ({write_error_reason(exc)})") from None
    try:
        (folder / "README.md").write_text(model_card.render(compressed.recipe, result, onnx_name), encoding="utf-8")
    except OSError as exc:
        raise SlimlibError(f"{folder}: could not write the model card ({write_error_reason(exc)})") from None
    return folder


def write_onnx(compressed, folder: Path) -> str:
    """model.onnx for onnxruntime alone: the int8 graph when the model runs on ONNX, else an fp32 export."""
    from ..model.slim import ONNX_NAME, slim_of

    slim = slim_of(compressed.st_model)
    if slim.config.backend == "onnx":
        return ONNX_NAME  # already written by save_model: the model itself is the int8 graph
    from ..ops.onnx_export import export_onnx_file

    export_onnx_file(compressed.st_model, folder / ONNX_NAME, int8=False)
    return ONNX_NAME


def _check_writable(out: Path) -> None:
    """Fail before minutes of work if the destination cannot be written."""
    parent = out.parent if not out.exists() else out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise SlimlibError(f"{out}: cannot write here (no write permission on {parent})")
