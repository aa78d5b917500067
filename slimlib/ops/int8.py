"""Dynamic int8 quantization of an encoder's ONNX graph, vectorized.

It writes the graph ONNX Runtime's `quantize_dynamic(per_channel=True, weight_type=QInt8)` writes,
with the same integers: the quantizer's reference implementation loops over output channels in
Python (~20,000 channels for MiniLM, ~4.3 s of every int8 control change in the app), this one
quantizes each weight matrix in a few numpy operations (~0.3 s). tests/ops/test_onnx.py checks that
both give identical quantized weights, scales and outputs.

- MatMul by a constant weight W (in x out): W is int8, symmetric, one scale per output column
  (scale = max|W| / 127). The activation is quantized at run time (DynamicQuantizeLinear, uint8):
      DynamicQuantizeLinear(X) -> MatMulInteger(Xq, Wq, Xzp, Wzp) -> Cast(float) -> Mul(Xs * Ws)
  ONNX Runtime fuses this pattern into its DynamicQuantizeMatMul kernel when it loads the graph.
- Gather from a constant table (the embeddings): the table is uint8, asymmetric, one scale for the
  table; the gathered rows are dequantized (DequantizeLinear). This is what makes the file ~4x smaller.
"""
from __future__ import annotations

import numpy as np

from ..optional import require

INT8_LEVELS = 127  # symmetric int8 weights use [-127, 127]
UINT8_MAX = 255


def _onnx():
    return require("onnx"), require("onnx.numpy_helper")


def symmetric_per_column(weight: np.ndarray, levels: int = INT8_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scale per column) with weight ~ codes * scale; `levels` 63 is onnxruntime's
    reduce_range (7-bit weights, which keeps u8 x s8 pair sums inside int16 on CPUs without VNNI)."""
    absmax = np.abs(weight).max(axis=0).astype(np.float64)
    scale = (2 * absmax / (2 * levels)).astype(np.float32)
    tiny = np.finfo(np.float32).tiny
    scale = np.where(scale < tiny, np.float32(1.0), scale)  # an all-zero column: any scale represents it
    codes = np.clip(np.round(weight.astype(np.float32) / scale), -128, 127)
    return codes.astype(np.int8), scale


def asymmetric_per_tensor(table: np.ndarray) -> tuple[np.ndarray, np.float32, np.uint8]:
    """(uint8 codes, scale, zero point) with table ~ (codes - zero point) * scale."""
    low = np.minimum(table.min(), np.float32(0)).astype(np.float64)
    high = np.maximum(table.max(), np.float32(0)).astype(np.float64)
    scale = (high - low) / UINT8_MAX
    if np.float32(scale) < np.finfo(np.float32).tiny:
        return np.zeros(table.shape, np.uint8), np.float32(1.0), np.uint8(0)
    zero = np.round(0 - low / scale)
    scale = np.float32(scale)
    codes = np.clip(np.round(table.astype(np.float32) / scale) + zero, 0, UINT8_MAX)
    return codes.astype(np.uint8), scale, np.uint8(zero)


def quantizable_matmuls(model_bytes: bytes) -> list[str]:
    """Names of the MatMul nodes that int8 quantization turns into MatMulInteger (weight constant)."""
    onnx, _ = _onnx()
    graph = onnx.load_from_string(model_bytes).graph
    constants = {t.name: t for t in graph.initializer}

    def is_float_matrix(name: str) -> bool:
        tensor = constants.get(name)
        return tensor is not None and tensor.data_type == onnx.TensorProto.FLOAT and len(tensor.dims) == 2

    return [node.name for node in graph.node
            if node.op_type == "MatMul" and is_float_matrix(node.input[1]) and not is_float_matrix(node.input[0])]


def quantize_dynamic_int8(model_bytes: bytes, embeddings: bool = True, reduce_range: bool = False,
                          exclude: frozenset[str] | set[str] = frozenset()) -> bytes:
    """The fp32 graph with MatMul weights (and, with `embeddings`, Gather tables) in int8; MatMul nodes
    named in `exclude` stay fp32; `reduce_range` uses 7-bit weights."""
    onnx, numpy_helper = _onnx()
    TensorProto, helper = onnx.TensorProto, onnx.helper
    levels = 63 if reduce_range else INT8_LEVELS

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    constants = {t.name: t for t in graph.initializer}
    new_constants: list = []
    dropped: set[str] = set()
    activation_codes: dict[str, tuple[str, str, str]] = {}  # one DynamicQuantizeLinear per activation
    nodes = []

    def is_float_matrix(name: str) -> bool:
        tensor = constants.get(name)
        return tensor is not None and tensor.data_type == TensorProto.FLOAT and len(tensor.dims) == 2

    for node in graph.node:
        if (node.op_type == "MatMul" and node.name not in exclude and is_float_matrix(node.input[1])
                and not is_float_matrix(node.input[0])):
            weight_name, x, (y,) = node.input[1], node.input[0], node.output
            if weight_name not in dropped:  # a weight feeding several MatMuls is quantized once
                codes, scale = symmetric_per_column(numpy_helper.to_array(constants[weight_name]), levels)
                new_constants += [numpy_helper.from_array(codes, f"{weight_name}_quantized"),
                                  numpy_helper.from_array(scale, f"{weight_name}_scale"),
                                  numpy_helper.from_array(np.zeros(scale.shape, np.int8), f"{weight_name}_zero_point")]
                dropped.add(weight_name)
            if x not in activation_codes:
                activation_codes[x] = (f"{x}_quantized", f"{x}_scale", f"{x}_zero_point")
                nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(activation_codes[x]),
                                              name=f"{x}_QuantizeLinear"))
            xq, xs, xzp = activation_codes[x]
            base = node.name or y
            nodes += [
                helper.make_node("MatMulInteger", [xq, f"{weight_name}_quantized", xzp, f"{weight_name}_zero_point"],
                                 [f"{y}_output_quantized"], name=f"{base}_quant"),
                helper.make_node("Mul", [xs, f"{weight_name}_scale"], [f"{base}_quant_scales_mul:0"],
                                 name=f"{base}_quant_scales_mul"),
                helper.make_node("Cast", [f"{y}_output_quantized"], [f"{y}_output_quantized_cast_output"],
                                 to=TensorProto.FLOAT, name=f"{base}_output_quantized_cast"),
                helper.make_node("Mul", [f"{y}_output_quantized_cast_output", f"{base}_quant_scales_mul:0"], [y],
                                 name=f"{base}_output_quantized_mul"),
            ]
        elif embeddings and node.op_type == "Gather" and is_float_matrix(node.input[0]):
            table, (y,) = node.input[0], node.output
            if table not in dropped:
                codes, scale, zero = asymmetric_per_tensor(numpy_helper.to_array(constants[table]))
                new_constants += [numpy_helper.from_array(codes, f"{table}_quantized"),
                                  numpy_helper.from_array(np.array(scale, np.float32), f"{table}_scale"),
                                  numpy_helper.from_array(np.array(zero, np.uint8), f"{table}_zero_point")]
                dropped.add(table)
            axis = [a for a in node.attribute if a.name == "axis"]
            gather = helper.make_node("Gather", [f"{table}_quantized", node.input[1]], [f"{y}_quantized"],
                                      name=node.name)
            gather.attribute.extend(axis)
            nodes += [gather, helper.make_node("DequantizeLinear", [f"{y}_quantized", f"{table}_scale",
                                                                    f"{table}_zero_point"], [y],
                                               name=f"{y}_DequantizeLinear")]
        else:
            nodes.append(node)

    still_used = {name for node in nodes for name in node.input}
    kept = [t for t in graph.initializer if t.name not in dropped or t.name in still_used]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_constants)
    del graph.node[:]
    graph.node.extend(nodes)
    # MatMulInteger and DynamicQuantizeLinear need opset >= 10/11 in the default domain: the exporter's 17 has them.
    return model.SerializeToString()
