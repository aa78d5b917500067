"""slimlib: compress sentence-embedding models and measure what each choice costs and buys.

Importing slimlib registers the `slimlib` model type with transformers, so a compressed folder
loads with plain `SentenceTransformer(folder)` afterwards.
"""
from __future__ import annotations

from pathlib import Path

from .model import slim as _register  # noqa: F401  (registers the slimlib model type)
from .errors import Cancelled, DataFileError, ModelLoadError, RecipeError, SlimlibError
from .ops.recipe import FORMAT, Recipe, make_step


def _version() -> str:
    """pyproject.toml is the one place the version is written: read it from the installed metadata,
    or, for a source tree on sys.path that was never installed, from pyproject.toml beside it."""
    import importlib.metadata

    try:
        return importlib.metadata.version("slimlib")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        if not pyproject.is_file():
            return "0+unknown"
        import tomllib

        return tomllib.loads(pyproject.read_text())["project"]["version"]


__version__ = _version()


def load_base(name: str = "all-MiniLM-L6-v2"):
    from .model.base import load_base as _load

    return _load(name)


def apply_recipe(recipe, base=None, progress=None, should_stop=None):
    from .ops.pipeline import apply_recipe as _apply

    return _apply(recipe, base, progress, should_stop)


def load_compressed(folder: str):
    """Load a compressed model folder (or any sentence-transformers folder) on CPU."""
    from .model.base import load_sentence_transformer

    return load_sentence_transformer(str(folder))


__all__ = [
    "FORMAT", "Recipe", "make_step", "load_base", "apply_recipe", "load_compressed",
    "SlimlibError", "RecipeError", "ModelLoadError", "DataFileError", "Cancelled",
]
