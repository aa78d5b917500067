"""One real-browser run: Debian chromium driven by Playwright against `streamlit run app.py`.

Starts the server on 127.0.0.1 on a free port (history in a temp dir), waits for /_stcore/health,
checks the menu calls the landing page Explore, unticks a layer checkbox, waits for the trade-off
chart to gain a point, downloads the recipe from the Export page and parses it, then follows the
Export page's share link as a new visitor would and checks it opens Explore with the same
controls; saves screenshots (set SLIMLIB_SCREENSHOT_DIR to keep them).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from browser_support import (POINTS, WAIT_MS, free_port, launch, open_and_wait, page_text, require_browser, server_diagnostics,
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
        nav = [t.strip() for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
        assert nav and nav[0] == "Explore" and "app" not in nav, nav
        assert {"Heads", "Compare", "Export", "Presets", "Interactions", "Present"} <= set(nav), nav
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
        # (drop_layers also records how layers were chosen, e.g. "choose": "auto"; only these two matter here)
        assert [(s["op"], s.get("layers")) for s in recipe["steps"]] == [("drop_layers", [last_layer])], recipe["steps"]
        page.screenshot(path=str(tmp_path / "export.png"), full_page=True)

        # The share link, opened by someone else (a fresh browser context: no session, no cookies).
        link = page.locator('[data-testid="stCode"]').filter(has_text="cfg=").first.inner_text().strip()
        assert "/Export" not in link, link
        other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        open_and_wait(other, link)
        assert other.url.split("?", 1)[0].rstrip("/") == url.split("?", 1)[0].rstrip("/"), other.url
        assert other.locator("h1").first.inner_text().strip() == "Explore"
        assert f"{last_layer + 1} layers x" in page_text(other)  # the link's model, not the default one
        shared_box = other.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]').filter(has_text=f"layer {last_layer}").first
        assert shared_box.locator("input").is_checked() is False  # the dropped layer is still dropped
        other.screenshot(path=str(tmp_path / "shared.png"), full_page=True)
        browser.close()
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("explore.png", "export.png", "shared.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)


def test_a_page_opened_first_by_its_own_address_shows_the_explore_menu(server):
    """On a fresh server, a first visitor arriving on /Export (a shared bookmark) must get the same
    menu as everyone else: Streamlit's pages/-folder mode would call the landing page "app"."""
    from playwright.sync_api import sync_playwright

    url, process, log_path = server
    with sync_playwright() as p, server_diagnostics(process, log_path):
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Export")
        page.locator("h1").filter(has_text="Export").first.wait_for(timeout=WAIT_MS)
        wait_idle(page, WAIT_MS)
        nav = [t.strip() for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
        assert nav and nav[0] == "Explore" and "app" not in nav, nav
        assert page.url.split("?", 1)[0].endswith("/Export")
        browser.close()
