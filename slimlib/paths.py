"""Where slimlib keeps its files: caches, the history database, sweep studies, installed models.

By default a per-user folder (`$XDG_CACHE_HOME/slimlib`, i.e. `~/.cache/slimlib`), never the
installed package or a checkout, so an installed slimlib works from any folder and a test run
leaves the checkout clean. `SLIMLIB_DATA_DIR` overrides it.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def default_data_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "slimlib"


def data_dir() -> Path:
    """The data directory (SLIMLIB_DATA_DIR overrides the per-user default); created on demand."""
    path = Path(os.environ.get("SLIMLIB_DATA_DIR") or default_data_dir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(kind: str) -> Path:
    path = data_dir() / "cache" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
