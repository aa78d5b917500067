"""Writing a compressed model folder that `SentenceTransformer(folder)` reloads (slimlib imported)."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from safetensors import SafetensorError

from ..errors import SlimlibError

RECIPE_NAME = "slimlib_recipe.json"
# Files a fast tokenizer does not need once tokenizer.json exists; leaving them out keeps the
# artifact honest about its size (vocab.txt alone is 0.2 MB).
REDUNDANT_FILES = ("vocab.txt", "README.md")
# What writing a model folder raises when the disk is full or the folder vanishes: safetensors
# reports I/O failures as its own exception, not as OSError.
WRITE_ERRORS = (OSError, SafetensorError)


def write_error_reason(exc: BaseException) -> str:
    """The OS's words for a failed write ("No space left on device"), whichever library raised it."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return "No space left on device" if "os error 28" in text else text


def write_file_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file through a temp file in the same folder and a rename, so a reader never sees half
    a file; the file is readable by others (caches and exports are ordinary data, not secrets)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def staged_folder(folder: Path, prefix: str = ".slimlib-") -> Iterator[Path]:
    """Yield a sibling temp folder to fill; on success it replaces `folder` in one rename (files
    0644, folders 0755, so teammates can read an export), on any error it is removed."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=folder.parent))
    try:
        yield staging
        for path in [staging, *staging.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def save_model(compressed, folder: str | Path) -> Path:
    """Save atomically: write into a sibling temp folder, then move into place."""
    folder = Path(folder)
    _refuse_foreign_folder(folder)
    try:
        with staged_folder(folder) as staging:
            write_model_files(compressed.st_model, staging)
            compressed.recipe.save(staging / RECIPE_NAME)
    except WRITE_ERRORS as exc:
        reason = exc.strerror if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError) else None
        raise SlimlibError(f"{folder}: could not save the model ({reason or write_error_reason(exc)})") from None
    return folder


def _refuse_foreign_folder(folder: Path) -> None:
    """Replacing an earlier export is fine; deleting a user's unrelated folder is not."""
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / RECIPE_NAME).is_file())):
        raise SlimlibError(f"{folder}: exists and is not a slimlib export; choose a new or empty folder")


def write_model_files(st_model, folder: Path) -> None:
    from .static import is_static, save_static

    if is_static(st_model):  # one folder both sentence-transformers and model2vec load
        save_static(st_model, folder)
        return
    st_model.save(str(folder), create_model_card=False)
    for name in REDUNDANT_FILES:
        path = folder / name
        if path.is_file() and (folder / "tokenizer.json").is_file():
            path.unlink()


def folder_bytes(folder: str | Path) -> int:
    """Total size of the files under `folder` (what a model costs on disk)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
