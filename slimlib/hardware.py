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
