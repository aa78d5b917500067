"""kill -9 the Streamlit server in the middle of an evaluation: it restarts, and nothing is lost."""
from __future__ import annotations

import signal
import sqlite3

from browser_support import POINTS, free_port, launch, open_and_wait, require_browser, start_streamlit, stop_streamlit


def test_kill_during_evaluation_then_restart(tiny_bert_path, tmp_path):
    sync_api = require_browser()
    from slimlib.ops.recipe import Recipe
    from ui.config import encode_recipe

    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}/?cfg={encode_recipe(Recipe(str(tiny_bert_path), []))}"
    log = open(tmp_path / "streamlit.log", "w")
    server = start_streamlit(data_dir, port, log)
    try:
        with sync_api.sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page()
            open_and_wait(page, url)
            # Start another evaluation and kill the server while its script is still running.
            page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]').filter(has_text="2").first.click()
            try:  # Streamlit shows its status widget only once a run lasts a moment
                page.wait_for_selector('[data-testid="stStatusWidget"]', timeout=5_000)
            except sync_api.TimeoutError:
                pass  # a fast machine may finish the tiny model's evaluation first: kill right after it
            server.send_signal(signal.SIGKILL)
            server.wait(30)
            browser.close()
        db = data_dir / "history.sqlite"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows_before_restart = conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        assert rows_before_restart >= 1  # the baseline evaluation committed before the kill survived

        server = start_streamlit(data_dir, port, log)  # the app starts again on the same data
        with sync_api.sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page()
            open_and_wait(page, url)
            assert page.locator(POINTS).count() >= 1
            browser.close()
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] >= rows_before_restart
    finally:
        stop_streamlit(server)
        log.close()
