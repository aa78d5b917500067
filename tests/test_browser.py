"""One real-browser run: Debian chromium driven by Playwright against `streamlit run app.py`.

Starts the server on 127.0.0.1 on a free port (history in a temp dir), waits for /_stcore/health,
untick a layer checkbox, waits for the trade-off chart to gain a point, downloads the recipe from
the Export page and parses it, and saves screenshots (set SLIMLIB_SCREENSHOT_DIR to keep them).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from browser_support import (POINTS, WAIT_MS, free_port, launch, open_and_wait, require_browser, server_diagnostics,
                             start_streamlit, stop_streamlit, wait_idle)


@pytest.fixture()
def server(tmp_path):
    require_browser()
    port = free_port()
    log = open(tmp_path / "streamlit.log", "w")
    process = start_streamlit(tmp_path / "data", port, log)
    try:
        yield f"http://127.0.0.1:{port}", process, tmp_path / "streamlit.log"
    finally:
        stop_streamlit(process)
        log.close()


@pytest.fixture()
def start_url(server, request):
    """The page to open: by default a shared link whose recipe names a tiny random BERT folder (fast on a
    busy machine); SLIMLIB_BROWSER_MODEL=minilm opens the bundled MiniLM instead.
    Returns (url, last layer, the server fixture)."""
    url = server[0]
    if os.environ.get("SLIMLIB_BROWSER_MODEL", "tiny") == "minilm":
        return url, 5, server
    from slimlib.ops.recipe import Recipe
    from ui.config import encode_recipe

    tiny = request.getfixturevalue("tiny_bert_path")
    return f"{url}/?cfg={encode_recipe(Recipe(str(tiny), []))}", 2, server


def test_change_a_control_then_download_the_recipe(start_url, tmp_path):
    from playwright.sync_api import sync_playwright

    url, last_layer, (_, process, log_path) = start_url

    keep = os.environ.get("SLIMLIB_SCREENSHOT_DIR")
    wait_ms = WAIT_MS
    with sync_playwright() as p, server_diagnostics(process, log_path):
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        open_and_wait(page, url)
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
        drops = [step for step in recipe["steps"] if step["op"] == "drop_layers"]
        assert [step["layers"] for step in drops] == [[last_layer]]
        page.screenshot(path=str(tmp_path / "export.png"), full_page=True)
        browser.close()
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("explore.png", "export.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)
