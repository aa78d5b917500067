"""kill -9 the Streamlit server in the middle of an evaluation: it restarts, and nothing is lost."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from test_browser import CHROMIUM, FLAGS, POINTS, ROOT, free_port, wait_healthy, wait_idle

WAIT_MS = float(os.environ.get("SLIMLIB_BROWSER_WAIT_S", "900")) * 1000


def start_server(data_dir, port, log):
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "SLIMLIB_DATA_DIR": str(data_dir)}, stdout=log, stderr=subprocess.STDOUT)
    wait_healthy(f"http://127.0.0.1:{port}", process, 180)
    return process


def test_kill_during_evaluation_then_restart(tiny_bert_path, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from slimlib.recipe import Recipe
    from ui.config import encode_recipe

    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}/?cfg={encode_recipe(Recipe(str(tiny_bert_path), []))}"
    log = open(tmp_path / "streamlit.log", "w")
    server = start_server(data_dir, port, log)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector(POINTS, timeout=WAIT_MS)
            wait_idle(page, WAIT_MS)
            # Start another evaluation and kill the server while its script is still running.
            page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]').filter(has_text="2").first.click()
            page.wait_for_selector('[data-testid="stStatusWidget"]', timeout=60_000)
            server.send_signal(signal.SIGKILL)
            server.wait(30)
            browser.close()
        db = data_dir / "history.sqlite"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows_before_restart = conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        assert rows_before_restart >= 1  # the baseline evaluation committed before the kill survived

        server = start_server(data_dir, port, log)  # the app starts again on the same data
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector(POINTS, timeout=WAIT_MS)
            wait_idle(page, WAIT_MS)
            assert page.locator(POINTS).count() >= 1
            browser.close()
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] >= rows_before_restart
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(20)
        log.close()
