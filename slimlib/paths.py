"""Where slimlib keeps its files: caches, the history database, exports."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def data_dir() -> Path:
    """The project's data directory (SLIMLIB_DATA_DIR overrides it); created on demand."""
    path = Path(os.environ.get("SLIMLIB_DATA_DIR") or PROJECT_DIR / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(kind: str) -> Path:
    path = data_dir() / "cache" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
