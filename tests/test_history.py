"""The SQLite history: one row per (model, recipe, data, quick), WAL mode, versioned schema."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from slimlib.errors import SlimlibError
from slimlib.history import SCHEMA_VERSION, History


def result(key="k1", quick=True, sts=80.0, steps=None):
    return {"base_model": "m", "recipe_key": key, "recipe": {"format": "slimlib.recipe/v1", "base_model": "m",
                                                               "steps": steps or []},
            "compressed": {"sts_spearman": sts}, "measurement": {"quick": quick}}


def test_add_find_and_replace(tmp_path):
    store = History(tmp_path / "h.sqlite")
    first = store.add(result(), model_hash="h", data_key="d", data_label="dev")
    assert first.quick and first.result["compressed"]["sts_spearman"] == 80.0
    again = store.add(result(sts=81.0), model_hash="h", data_key="d", data_label="dev")
    assert again.id == first.id and again.result["compressed"]["sts_spearman"] == 81.0
    store.add(result(quick=False), model_hash="h", data_key="d", data_label="dev")
    store.add(result(key="k2"), model_hash="h", data_key="other", data_label="x")
    assert len(store.entries()) == 3
    assert [e.recipe_key for e in store.entries(model_hash="h", data_key="d")] == ["k1", "k1"]
    assert store.find("h", "k1", "d", quick=False).quick is False
    assert store.find("h", "missing", "d", quick=True) is None
    assert store.get(first.id).recipe["base_model"] == "m"


def test_survives_reopening_and_uses_wal(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).add(result(), model_hash="h", data_key="d", data_label="dev")
    reopened = History(path)
    assert len(reopened.entries()) == 1
    assert reopened.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_delete_and_clear(tmp_path):
    store = History(tmp_path / "h.sqlite")
    a = store.add(result("a"), model_hash="h", data_key="d", data_label="dev")
    store.add(result("b"), model_hash="h", data_key="d", data_label="dev")
    store.delete(a.id)
    assert [e.recipe_key for e in store.entries()] == ["b"]
    store.clear()
    assert store.entries() == []


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).entries()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SlimlibError, match="newer slimlib"):
        History(path).entries()


def test_a_corrupt_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SlimlibError, match="history database is unreadable"):
        History(path).entries()


def test_default_path_is_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path))
    assert History().path == tmp_path / "history.sqlite"


def test_concurrent_writers_from_threads(tmp_path):
    store = History(tmp_path / "h.sqlite")
    errors = []

    def write(n):
        try:
            for i in range(10):
                store.add(result(f"{n}-{i}"), model_hash="h", data_key="d", data_label="dev")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.entries()) == 40


def test_sessions_creating_a_new_history_at_once_all_open_it(tmp_path):
    """Six app sessions open a server's first page together: each opens its own History on the new file."""
    for attempt in range(10):
        path = tmp_path / f"h{attempt}.sqlite"
        sessions = 6
        start = threading.Barrier(sessions)
        errors = []

        def open_history():
            start.wait()
            try:
                History(path).entries()
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_history) for _ in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[0]
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [(str(SCHEMA_VERSION),)]
