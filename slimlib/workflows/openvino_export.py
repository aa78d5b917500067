"""OpenVINO IR (openvino/model.xml + model.bin) of an exported model: the same graph as its ONNX file.

fp32 models are converted from their fp32 ONNX export; int8 models from their ONNX Runtime int8
graph (OpenVINO's ONNX frontend reads DynamicQuantizeLinear/MatMulInteger), so both runtimes run
the same integers. `verify` checks the IR against the reference embeddings.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..optional import require

OPENVINO_DIR = "openvino"


def write_openvino(compressed, folder: Path) -> Path:
    """Write folder/openvino/model.xml and model.bin; returns the .xml path."""
    from ..ops.onnx_export import export_onnx_file

    ov = require("openvino")
    out = Path(folder) / OPENVINO_DIR
    out.mkdir(parents=True, exist_ok=True)
    onnx_file = Path(folder) / "onnx" / "model.onnx"
    with tempfile.TemporaryDirectory(prefix="slimlib-openvino-") as tmp:
        if not onnx_file.is_file():
            onnx_file = export_onnx_file(compressed.st_model, Path(tmp) / "model.onnx", int8=False)
        model = ov.convert_model(str(onnx_file))
        ov.save_model(model, str(out / "model.xml"), compress_to_fp16=False)
    for path in (out, *out.iterdir()):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return out / "model.xml"
