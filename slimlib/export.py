"""Writing a compressed model folder that `SentenceTransformer(folder)` reloads (slimlib imported)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .errors import SlimlibError

RECIPE_NAME = "slimlib_recipe.json"
# Files a fast tokenizer does not need once tokenizer.json exists; leaving them out keeps the
# artifact honest about its size (vocab.txt alone is 0.2 MB).
REDUNDANT_FILES = ("vocab.txt", "README.md")


def save_model(compressed, folder: str | Path) -> Path:
    """Save atomically: write into a sibling temp folder, then move into place."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".slimlib-", dir=folder.parent))
    except OSError as exc:
        raise SlimlibError(f"{folder}: cannot write here ({exc.strerror})") from None
    try:
        write_model_files(compressed.st_model, staging)
        compressed.recipe.save(staging / RECIPE_NAME)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise SlimlibError(f"{folder}: could not save the model ({exc.strerror or exc})") from None
    return folder


def write_model_files(st_model, folder: Path) -> None:
    st_model.save(str(folder), create_model_card=False)
    for name in REDUNDANT_FILES:
        path = folder / name
        if path.is_file() and (folder / "tokenizer.json").is_file():
            path.unlink()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
