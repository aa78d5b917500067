"""The data picker's upload: a removed file is forgotten, a kept one survives other pages, and every
message names the user's file rather than the server's copy of it."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_helpers import APP  # noqa: E402

UPLOAD = "upload a pair file"
GOOD = "sentence1,sentence2,score\n" + "".join(f"a cat number {i},a dog number {i},{i % 5}\n" for i in range(12))


def texts(at) -> list[str]:
    return [e.value for kind in ("error", "warning", "caption", "info") for e in at.get(kind)]


def test_a_removed_bad_upload_is_forgotten_and_errors_name_the_users_file(tiny_bert_path, tmp_path, monkeypatch):
    from ui.config import default_config

    data_dir = tmp_path / "data"
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(data_dir))
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.session_state["config"] = default_config(model=str(tiny_bert_path))
    at.run()
    assert not at.exception, at.exception
    at.sidebar.radio(key="w.data_mode").set_value(UPLOAD).run()
    assert "No file yet: fidelity only." in texts(at)

    at.sidebar.file_uploader(key="w.data_upload").upload("my pairs.csv", b"a,b,c\n1,2,3\n", "text/csv").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("my pairs.csv: unknown columns") for e in errors), errors
    assert not any("uploads" in e or str(data_dir) in e for e in errors), errors  # not the server's copy

    at.sidebar.file_uploader(key="w.data_upload").clear().run()  # the user removes the bad file
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "No file yet: fidelity only." in texts(at)
    assert not any("uploaded earlier" in t for t in texts(at)), texts(at)
    at.run()  # and it stays forgotten
    assert not at.error and "No file yet: fidelity only." in texts(at)

    # A good upload still survives a visit to another page, where the uploader is not drawn.
    at.sidebar.file_uploader(key="w.data_upload").upload("good pairs.csv", GOOD.encode(), "text/csv").run()
    assert not at.error, [e.value for e in at.error]
    at.switch_page("pages/6_Search.py").run()
    assert not at.exception, at.exception
    at.switch_page("app.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.sidebar.radio(key="w.data_mode").value == UPLOAD
    assert "Using the file uploaded earlier: good pairs.csv" in texts(at)
    assert any("Evaluation data: good pairs.csv (12 pairs)" in t for t in texts(at)), texts(at)


def test_a_too_big_upload_names_the_users_file(tiny_bert_path, tmp_path, monkeypatch):
    import slimlib.data.pairs as pairs_module
    from ui.config import default_config

    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(pairs_module, "MAX_PAIR_FILE_BYTES", 100)
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.session_state["config"] = default_config(model=str(tiny_bert_path))
    at.session_state["data.saved"] = {"mode": UPLOAD, "path": "", "upload": None}
    at.run()
    at.sidebar.file_uploader(key="w.data_upload").upload("big.csv", GOOD.encode() * 3, "text/csv").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("big.csv: ") and "limit for a pair file" in e for e in errors), errors
    assert os.sep + "uploads" + os.sep not in " ".join(errors)
