"""One version, written once in pyproject.toml: `slimlib.__version__` reads it back."""
from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import slimlib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def pyproject_version() -> str:
    return tomllib.loads(PYPROJECT.read_text())["project"]["version"]


def test_version_is_pyprojects():
    assert slimlib.__version__ == pyproject_version()


def test_version_of_a_source_tree_that_is_not_installed(monkeypatch):
    """Without installed metadata (a checkout on sys.path) the version still comes from pyproject.toml."""
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert slimlib._version() == pyproject_version()
