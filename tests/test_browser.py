"""One real-browser run: Debian chromium driven by Playwright against `streamlit run app.py`.

Starts the server on 127.0.0.1 on a free port (history in a temp dir), waits for /_stcore/health,
untick a layer checkbox, waits for the trade-off chart to gain a point, downloads the recipe from
the Export page and parses it, and saves screenshots (set SLIMLIB_SCREENSHOT_DIR to keep them).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1400,1000"]
# Model loading plus the first quick evaluation: seconds on an idle machine, minutes on a busy one.
WAIT_S = float(os.environ.get("SLIMLIB_BROWSER_WAIT_S", "900"))
POINTS = ".js-plotly-plot .scatterlayer .trace path.point"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("streamlit did not become healthy")


@pytest.fixture()
def server(tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    port = free_port()
    env = {**os.environ, "SLIMLIB_DATA_DIR": str(tmp_path / "data")}
    log = open(tmp_path / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, 180)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_idle(page, timeout_ms: float) -> None:
    """Until the script run finishes (Streamlit shows a 'running' status widget meanwhile)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


@pytest.fixture()
def start_url(server, request):
    """The page to open: by default a shared link whose recipe names a tiny random BERT folder (fast on a
    busy machine); SLIMLIB_BROWSER_MODEL=minilm opens the bundled MiniLM instead. Returns (url, last layer)."""
    if os.environ.get("SLIMLIB_BROWSER_MODEL", "tiny") == "minilm":
        return server, 5
    from slimlib.recipe import Recipe
    from ui.config import encode_recipe

    tiny = request.getfixturevalue("tiny_bert_path")
    return f"{server}/?cfg={encode_recipe(Recipe(str(tiny), []))}", 2


def test_change_a_control_then_download_the_recipe(start_url, tmp_path):
    from playwright.sync_api import sync_playwright

    url, last_layer = start_url

    keep = os.environ.get("SLIMLIB_SCREENSHOT_DIR")
    wait_ms = WAIT_S * 1000
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(url)
        page.wait_for_selector(POINTS, timeout=wait_ms)
        wait_idle(page, wait_ms)
        before = page.locator(POINTS).count()

        box = page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]').filter(has_text=str(last_layer)).first
        if box.count() == 0 or box.locator("input").is_disabled():
            pytest.skip("the drop_layers op is not registered in this build")
        box.click()
        page.wait_for_function(f"() => document.querySelectorAll('{POINTS}').length > {before}", timeout=wait_ms)
        wait_idle(page, wait_ms)
        assert "cfg=" in page.url  # the shareable config follows the controls
        shot = tmp_path / "explore.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Export").click()
        button = page.locator('[data-testid="stDownloadButton"] button').filter(has_text="recipe.json")
        button.wait_for(timeout=wait_ms)
        with page.expect_download(timeout=60_000) as download_info:
            button.click()
        path = download_info.value.path()
        recipe = json.loads(Path(path).read_text(encoding="utf-8"))
        assert recipe["format"] == "slimlib.recipe/v1"
        assert {"op": "drop_layers", "layers": [last_layer]} in recipe["steps"]
        page.screenshot(path=str(tmp_path / "export.png"), full_page=True)
        browser.close()
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("explore.png", "export.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)
