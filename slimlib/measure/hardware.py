"""What the CPU supports, because whether bf16 or int8 pays depends on it."""
from __future__ import annotations

import os
import platform
from functools import lru_cache

FLAG_NAMES = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "amx_bf16": "AMX BF16",
    "amx_int8": "AMX INT8",
}


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                elif line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    supported = [label for flag, label in FLAG_NAMES.items() if flag in flags]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "features": supported,
        "bf16_fast": "avx512_bf16" in flags or "amx_bf16" in flags,
        "int8_fast": bool({"avx512_vnni", "avx_vnni", "amx_int8"} & flags),
    }


def bit_width_advice(info: dict | None = None) -> str:
    """One line on what this CPU means for the bit-width choice (the app and `inspect` show it)."""
    info = info or cpu_info()
    features = ", ".join(info["features"]) or "none of AVX2 / AVX-512 / VNNI / BF16 / AMX"
    int8 = ("int8 dot-product instructions present: ONNX Runtime int8 pays well" if info["int8_fast"] else
            "no VNNI/AMX: ONNX Runtime int8 still runs faster than fp32, but gains less than on a VNNI CPU")
    bf16 = ("native bf16: bf16 should run faster than fp32" if info["bf16_fast"] else
            "no native bf16: bf16 runs emulated, expect it no faster than fp32")
    return f"This CPU ({info['cpu']}, {info['cores']} cores): {features}. {int8}; {bf16}; fp16 is slow on CPUs."


def library_versions() -> dict:
    import importlib.metadata as md

    out = {}
    for name in ("slimlib", "torch", "transformers", "sentence-transformers", "onnxruntime"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out
