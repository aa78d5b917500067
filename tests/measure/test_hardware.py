"""What the CPU means for the bit-width choice: the advice follows the detected features."""
from slimlib.measure.hardware import bit_width_advice, cpu_info


def _info(**overrides):
    return {"cpu": "Test CPU", "cores": 2, "features": ["AVX2"], "bf16_fast": False, "int8_fast": False, **overrides}


def test_advice_names_the_cpu_and_its_features():
    text = bit_width_advice(_info())
    assert text.startswith("This CPU (Test CPU, 2 cores): AVX2.")
    assert "no VNNI/AMX" in text and "no native bf16" in text and "fp16 is slow" in text


def test_advice_changes_with_vnni_and_bf16():
    text = bit_width_advice(_info(features=["AVX2", "AVX-512", "AVX-512 VNNI", "AVX-512 BF16"], int8_fast=True,
                                  bf16_fast=True))
    assert "int8 dot-product instructions present" in text and "bf16 should run faster" in text
    assert "no VNNI" not in text


def test_advice_without_any_vector_extension_says_so():
    assert "none of AVX2 / AVX-512" in bit_width_advice(_info(features=[]))


def test_this_machine_is_described():
    info = cpu_info()
    assert info["cores"] >= 1 and isinstance(info["features"], list)
    assert info["cpu"] in bit_width_advice()
