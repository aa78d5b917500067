"""Every evaluated config, kept in a local SQLite database so a refresh or a restart loses nothing.

One row per (base model content, recipe, evaluation data, quick or full): evaluating the same
thing again replaces the row. The file lives in the project's data directory
(`slimlib.paths.data_dir()/history.sqlite`), in WAL mode so readers (other browser sessions, the
CLI) never block a writer. Each write is one transaction; every call opens its own connection, so
the store is safe to use from Streamlit's per-session threads. The schema is versioned in a
`meta` table; a file written by a newer slimlib is refused rather than misread.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import SlimlibError
from .paths import data_dir

SCHEMA_VERSION = 1
FILE_NAME = "history.sqlite"
_PREPARE_LOCK = threading.Lock()
# Files this process has already prepared. The app makes a History per call; without this, every
# read would take the write lock to check the schema.
_PREPARED: set[tuple[str, int]] = set()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    base_model TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    recipe_key TEXT NOT NULL,
    recipe_json TEXT NOT NULL,
    data_key TEXT NOT NULL,
    data_label TEXT NOT NULL,
    quick INTEGER NOT NULL,
    result_json TEXT NOT NULL,
    UNIQUE (model_hash, recipe_key, data_key, quick)
);
CREATE INDEX IF NOT EXISTS evaluations_by_model ON evaluations (model_hash, data_key);
"""


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: float
    base_model: str
    model_hash: str
    recipe_key: str
    recipe: dict
    data_key: str
    data_label: str
    quick: bool
    result: dict


def default_path() -> Path:
    return data_dir() / FILE_NAME


class History:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_path()
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise SlimlibError(f"{self.path}: cannot open the history database ({exc})") from None
        try:
            if not self._ready:
                self._check_known(conn) if self._known() else self._prepare(conn)
            with conn:  # one transaction: commits on success, rolls back on error
                yield conn
        except sqlite3.DatabaseError as exc:
            raise SlimlibError(f"{self.path}: the history database is unreadable ({exc}); move it aside to start a new one") from None
        finally:
            conn.close()

    def _check_version(self, row) -> None:
        if row is None:
            raise sqlite3.DatabaseError("its schema version is missing")
        if int(row[0]) > SCHEMA_VERSION:
            raise SlimlibError(
                f"{self.path}: history schema version {row[0]} was written by a newer slimlib (this one reads {SCHEMA_VERSION})"
            )

    def _check_known(self, conn: sqlite3.Connection) -> None:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:  # a new file that reuses the inode of one prepared before
            self._prepare(conn)
            return
        self._check_version(row)
        self._ready = True

    def _known(self) -> bool:
        """Prepared earlier in this process, and still the same file (not moved aside and recreated)."""
        try:
            return (str(self.path), self.path.stat().st_ino) in _PREPARED
        except OSError:
            return False

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # A server's first page, opened by several people, creates the file from several threads at
        # once: in-process they take turns; another process (the CLI) waits on BEGIN IMMEDIATE, which
        # takes the write lock up front (a deferred transaction that reads, then writes, can be refused
        # at once with "database is locked" instead of waiting).
        with _PREPARE_LOCK:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.isolation_level = None  # explicit BEGIN / COMMIT below
            try:
                conn.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.isolation_level = ""
        self._check_version(row)
        self._ready = True
        _PREPARED.add((str(self.path), self.path.stat().st_ino))

    # Writing -------------------------------------------------------------------------
    def add(self, result: dict, *, model_hash: str, data_key: str, data_label: str) -> Entry:
        """Store one eval JSON (replacing an earlier evaluation of the same thing); returns the row."""
        quick = bool(result.get("measurement", {}).get("quick", False))
        recipe = result["recipe"]
        values = (time.time(), result["base_model"], model_hash, result["recipe_key"], json.dumps(recipe, sort_keys=True),
                  data_key, data_label, int(quick), json.dumps(result, sort_keys=True))
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO evaluations (created_at, base_model, model_hash, recipe_key, recipe_json, data_key, data_label,"
                " quick, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (model_hash, recipe_key, data_key, quick) DO UPDATE SET created_at = excluded.created_at,"
                " base_model = excluded.base_model, recipe_json = excluded.recipe_json, data_label = excluded.data_label,"
                " result_json = excluded.result_json",
                values,
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM evaluations WHERE model_hash = ? AND recipe_key = ? AND data_key = ? AND quick = ?",
                (model_hash, result["recipe_key"], data_key, int(quick)),
            ).fetchone()
        return _entry(row)

    def delete(self, entry_id: int) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM evaluations WHERE id = ?", (int(entry_id),))

    def clear(self) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM evaluations")

    # Reading -------------------------------------------------------------------------
    def find(self, model_hash: str, recipe_key: str, data_key: str, quick: bool) -> Entry | None:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM evaluations WHERE model_hash = ? AND recipe_key = ? AND data_key = ? AND quick = ?",
                (model_hash, recipe_key, data_key, int(bool(quick))),
            ).fetchone()
        return _entry(row) if row else None

    def get(self, entry_id: int) -> Entry | None:
        with self._connect() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM evaluations WHERE id = ?", (int(entry_id),)).fetchone()
        return _entry(row) if row else None

    def entries(self, model_hash: str | None = None, data_key: str | None = None) -> list[Entry]:
        """Rows in the order they were first evaluated, optionally for one model and one data set."""
        clauses, args = [], []
        if model_hash is not None:
            clauses.append("model_hash = ?")
            args.append(model_hash)
        if data_key is not None:
            clauses.append("data_key = ?")
            args.append(data_key)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM evaluations {where} ORDER BY id", args).fetchall()
        return [_entry(row) for row in rows]

    def schema_version(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


_COLUMNS = "id, created_at, base_model, model_hash, recipe_key, recipe_json, data_key, data_label, quick, result_json"


def _entry(row) -> Entry:
    (id_, created, base, model_hash, key, recipe_json, data_key, data_label, quick, result_json) = row
    return Entry(id=id_, created_at=created, base_model=base, model_hash=model_hash, recipe_key=key,
                 recipe=json.loads(recipe_json), data_key=data_key, data_label=data_label, quick=bool(quick),
                 result=json.loads(result_json))
