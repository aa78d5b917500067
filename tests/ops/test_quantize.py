"""The quantize op: every bit-width saves, reloads exactly, really shrinks the file, labels its numbers."""
import numpy as np
import pytest
import torch
from safetensors import safe_open
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the model type
from slimlib.measure import metrics as measure
from slimlib.errors import RecipeError
from slimlib.ops.pipeline import apply_recipe
from slimlib.model.packed import PackedEmbedding, PackedLinear, PackedWeight, pack_bits, unpack_bits
from slimlib.ops.recipe import Recipe
from slimlib.model.slim import slim_of

from helpers import SAMPLE_SENTENCES

VARIANTS = {  # name -> quantize step
    "bf16": {"bits": 16, "float16": "bf16"},
    "fp16": {"bits": 16, "float16": "fp16"},
    "int8": {"bits": 8},
    "int4": {"bits": 4},
    "int3": {"bits": 3},
    "int2": {"bits": 2},
}


def recipe(base, *steps) -> Recipe:
    return Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": base.path, "steps": list(steps)})


def quantized(base, tmp_path, step: dict, before=()):
    compressed = apply_recipe(recipe(base, *before, {"op": "quantize", **step}), base)
    folder = compressed.save(tmp_path / "model")
    return compressed, folder


# Validation -----------------------------------------------------------------------------------------
def test_bits_5_is_rejected_naming_the_field_and_choices(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.bits: 5 is not allowed; choose one of 32, 16, 8, 4, 3, 2"):
        apply_recipe(recipe(tiny_bert, {"op": "quantize", "bits": 5}), tiny_bert)


def test_quantizing_twice_is_an_error(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[1\]\.op: quantize cannot follow quantize \(steps\[0\]\)"):
        apply_recipe(recipe(tiny_bert, {"op": "quantize", "bits": 8}, {"op": "quantize", "bits": 4}), tiny_bert)


# Bit packing ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [2, 3, 4])
def test_pack_bits_roundtrips_and_uses_bits_per_value(bits):
    codes = torch.randint(0, 2 ** bits, (1003,), generator=torch.Generator().manual_seed(bits))
    packed = pack_bits(codes, bits)
    assert packed.dtype == torch.uint8 and packed.numel() == (1003 * bits + 7) // 8
    assert torch.equal(unpack_bits(packed, bits, 1003), codes.to(torch.int32))


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("count", [1, 7, 8, 9, 61])
def test_packed_bytes_are_the_little_endian_bitstream(bits, count):
    """The file format: code i's bits, low bit first, at stream bits i*bits...; saved files depend on it."""
    codes = torch.randint(0, 2 ** bits, (count,), generator=torch.Generator().manual_seed(count))
    expected = bytearray((count * bits + 7) // 8)
    for i, code in enumerate(codes.tolist()):
        for b in range(bits):
            if code >> b & 1:
                position = i * bits + b
                expected[position // 8] |= 1 << (position % 8)
    assert pack_bits(codes, bits).tolist() == list(expected)
    assert unpack_bits(torch.tensor(list(expected), dtype=torch.uint8), bits, count).tolist() == codes.tolist()


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_group_quantization_error_is_bounded_by_half_a_step(bits):
    weight = torch.randn(8, 70, generator=torch.Generator().manual_seed(0))  # 70: a partial last group
    packed = PackedWeight.from_weight(weight, bits, 32)
    restored = packed.dequantized()
    assert restored.shape == weight.shape
    # Clipping may trade the extremes for finer steps, but never beyond the unclipped step size.
    step = (weight.max() - weight.min()) / (2 ** bits - 1)
    assert (restored - weight).abs().mean() < step / 2


# Round trips ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_bit_width_roundtrips_exactly(tiny, tmp_path, variant):
    compressed, folder = quantized(tiny, tmp_path, VARIANTS[variant])
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)
    original = measure.encode(tiny.model, SAMPLE_SENTENCES)
    assert measure.cosine_rows(original, before).mean() > 0.95
    # Logical parameters are those of the fp32 model, whatever the storage.
    assert measure.count_params(compressed.st_model) == measure.count_params(tiny.model)
    assert measure.count_params(reloaded) == measure.count_params(tiny.model)


def test_32_bits_changes_nothing(tiny_bert):
    compressed = apply_recipe(recipe(tiny_bert, {"op": "quantize", "bits": 32}), tiny_bert)
    np.testing.assert_allclose(measure.encode(compressed.st_model, SAMPLE_SENTENCES),
                               measure.encode(tiny_bert.model, SAMPLE_SENTENCES), atol=1e-6)
    assert compressed.labels == {}


# Storage ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,dtype", [("bf16", "BF16"), ("fp16", "F16")])
def test_16_bit_files_store_half_precision_tensors(tiny_bert, tmp_path, kind, dtype):
    _, fp32_folder = quantized(tiny_bert, tmp_path / "fp32", {"bits": 32})
    _, half_folder = quantized(tiny_bert, tmp_path / kind, VARIANTS[kind])
    with safe_open(str(half_folder / "model.safetensors"), "pt") as handle:
        dtypes = {handle.get_slice(k).get_dtype() for k in handle.keys()}
    assert dtypes == {dtype}
    ratio = (half_folder / "model.safetensors").stat().st_size / (fp32_folder / "model.safetensors").stat().st_size
    assert 0.49 < ratio < 0.51


def test_low_bit_files_are_really_packed(tiny_bert, tmp_path):
    weights = {}
    for name in ("int8", "int4", "int3", "int2"):
        _, folder = quantized(tiny_bert, tmp_path / name, VARIANTS[name])
        weights[name] = sum(f.stat().st_size for f in folder.glob("model.*"))
    assert weights["int2"] < weights["int3"] < weights["int4"] < weights["int8"]
    # The 4-bit file holds the packed codes as uint8 and no fp32 copy of any packed weight.
    with safe_open(str(tmp_path / "int4" / "model" / "model.safetensors"), "pt") as handle:
        keys = list(handle.keys())
        table = handle.get_slice("embeddings.word_embeddings.packed.codes")
        assert table.get_dtype() == "U8"
        assert table.get_shape() == [30522 * 64 // 2]
    assert not any(k.endswith(".weight") and ("dense" in k or "query" in k or "word_embeddings" in k) for k in keys)


def test_packed_modules_replace_linears_and_the_table(tiny_bert):
    compressed = apply_recipe(recipe(tiny_bert, {"op": "quantize", "bits": 3, "group_size": 16}), tiny_bert)
    inner = slim_of(compressed.st_model).inner
    assert isinstance(inner.embeddings.word_embeddings, PackedEmbedding)
    assert not any(isinstance(m, torch.nn.Linear) for m in inner.modules())
    assert all(m.packed.bits == 3 and m.packed.group_size == 16 for m in inner.modules() if isinstance(m, PackedLinear))


def test_embeddings_false_keeps_the_table_in_float(tiny_bert):
    compressed = apply_recipe(recipe(tiny_bert, {"op": "quantize", "bits": 4, "embeddings": False}), tiny_bert)
    assert isinstance(slim_of(compressed.st_model).inner.embeddings.word_embeddings, torch.nn.Embedding)


# Labels and notes -----------------------------------------------------------------------------------------
PACKED = "measured on the packed weights (fake-quantized: dequantized to fp32)"


@pytest.mark.parametrize("variant,label,accuracy", [
    ("bf16", None, None),
    ("int8", "measured (ONNX Runtime int8, dynamic per-channel)", None),
    ("int4", "measured (dequantized to fp32 at load: no int4 kernel)", PACKED),
    ("int3", "not measured: no kernel", PACKED),
    ("int2", "not measured: no kernel", PACKED),
])
def test_labels_say_how_speed_and_accuracy_are_obtained(tiny_bert, variant, label, accuracy):
    compressed = apply_recipe(recipe(tiny_bert, {"op": "quantize", **VARIANTS[variant]}), tiny_bert)
    assert compressed.labels.get("sentences_per_s") == label
    assert compressed.labels.get("sts_spearman") == accuracy
    assert compressed.labels.get("fidelity_cosine") == accuracy


def test_fp16_note_warns_it_is_slow_on_cpu(tiny_bert):
    compressed = apply_recipe(recipe(tiny_bert, {"op": "quantize", **VARIANTS["fp16"]}), tiny_bert)
    assert any("slower than fp32" in note for note in compressed.notes)
    assert any("CPU" in note for note in compressed.notes)


# After structural ops ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["int8", "int4"])
def test_quantize_after_dropping_a_layer_roundtrips(tiny, tmp_path, variant):
    compressed, folder = quantized(tiny, tmp_path, VARIANTS[variant], before=[{"op": "drop_layers", "layers": [1]}])
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)
    dropped = apply_recipe(recipe(tiny, {"op": "drop_layers", "layers": [1]}), tiny)
    assert measure.count_params(reloaded) == measure.count_params(dropped.st_model)


def test_packing_the_same_weights_again_reuses_the_bytes_and_copies_them(monkeypatch):
    from slimlib.model import packed as quant_layers

    monkeypatch.setattr(quant_layers, "_PACK_CACHE", type(quant_layers._PACK_CACHE)())
    calls = []
    real = quant_layers.quantize_groups
    monkeypatch.setattr(quant_layers, "quantize_groups", lambda *a: calls.append(1) or real(*a))
    weight = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    first = quant_layers.PackedWeight.from_weight(weight, 4, 32)
    second = quant_layers.PackedWeight.from_weight(weight.clone(), 4, 32)
    assert len(calls) == 1  # same content: packed once
    assert torch.equal(first.codes, second.codes) and torch.equal(first.scales, second.scales)
    assert first.codes.data_ptr() != second.codes.data_ptr()  # each module owns its buffers
    quant_layers.PackedWeight.from_weight(weight + 1, 4, 32)
    quant_layers.PackedWeight.from_weight(weight, 3, 32)
    assert len(calls) == 3  # other content or other bits: packed anew


def test_pack_cache_stays_within_its_byte_budget(monkeypatch):
    from slimlib.model import packed as quant_layers

    monkeypatch.setattr(quant_layers, "_PACK_CACHE", type(quant_layers._PACK_CACHE)())
    monkeypatch.setattr(quant_layers, "PACK_CACHE_BYTES", 3000)
    for seed in range(10):
        quant_layers.PackedWeight.from_weight(torch.randn(32, 64, generator=torch.Generator().manual_seed(seed)), 4, 32)
    held = sum(t.numel() * t.element_size() for e in quant_layers._PACK_CACHE.values() for t in e)
    assert 0 < held <= 3000 and len(quant_layers._PACK_CACHE) < 10


@pytest.mark.parametrize("variant", ["int8", "int4"])
def test_quantize_after_sharing_layers_roundtrips(tiny_bert, tmp_path, variant):
    """Shared layers reach the quantizer as one weight feeding several MatMuls: it is quantized once."""
    share = {"op": "share_layers", "groups": [[0, 1, 2]]}
    compressed, folder = quantized(tiny_bert, tmp_path, VARIANTS[variant], before=[share])
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)
    unquantized = measure.encode(apply_recipe(recipe(tiny_bert, share), tiny_bert).st_model, SAMPLE_SENTENCES)
    assert measure.cosine_rows(before, unquantized).mean() > 0.9
