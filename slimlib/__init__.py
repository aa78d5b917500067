"""slimlib: compress sentence-embedding models and measure what each choice costs and buys.

Importing slimlib registers the `slimlib` model type with transformers, so a compressed folder
loads with plain `SentenceTransformer(folder)` afterwards.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .model import slim as _register
from .errors import Cancelled, DataFileError, ModelLoadError, RecipeError, SlimlibError
from .ops.recipe import FORMAT, Recipe, make_step


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
