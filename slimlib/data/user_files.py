"""Reading a file a user named: one place that turns every way it can fail into one clear line."""
from __future__ import annotations

from pathlib import Path

from ..errors import SlimlibError


def read_user_text(path: str | Path, kind: str, error: type[SlimlibError] = SlimlibError,
                   max_bytes: int | None = None, utf8_hint: str = "save it as UTF-8") -> str:
    """The text of a user's `kind` file ("pair file", "recipe file", ...), UTF-8 (a BOM is dropped).

    Raises `error` naming the file: not found, a folder, too large, not UTF-8, or the OS's reason.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise error(f"{path}: is a folder; expected a {kind}")
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise error(f"{path}: {size // 2**20} MB is above the {max_bytes // 2**20} MB limit for a {kind}")
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: {kind} not found") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; {utf8_hint}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {kind} ({exc.strerror or type(exc).__name__})") from None
