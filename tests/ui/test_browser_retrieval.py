"""Real browser: retrieval data on the Explore page. Debian chromium driven by Playwright against
`streamlit run app.py` (history in a temp dir): open Explore on a tiny random BERT with one layer of three
kept (a share link), type a small BEIR folder (made in tmp_path) as the evaluation data, and wait for the
chart: its y axis says nDCG@10 retained, the config's point has error bars (its 95% interval), the label
says queries and documents, and the accuracy card is nDCG@10 with its interval. Skips without chromium.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from beir_data import write_beir
from browser_support import (WAIT_MS, free_port, launch, open_and_wait, page_text, require_browser, server_diagnostics,
                             start_streamlit, stop_streamlit, wait_for_result, wait_idle)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIDEBAR = '[data-testid="stSidebar"]'
Y_TITLE = ".js-plotly-plot .g-ytitle"
ERROR_BARS = ".js-plotly-plot .errorbars .errorbar path"
NDCG_CHART = ("() => { const t = document.querySelector('%s');"
              " return !!t && t.textContent.includes('nDCG@10 retained')"
              " && document.querySelectorAll('%s').length > 0; }" % (Y_TITLE, ERROR_BARS))


def share_link(url: str, model: Path) -> str:
    from slimlib.ops.recipe import Recipe, make_step
    from ui.config import encode_recipe

    return f"{url}/?cfg={encode_recipe(Recipe(str(model), [make_step('drop_layers', keep=1)]))}"


def test_a_typed_beir_folder_draws_an_ndcg_axis_with_error_bars(tiny_bert_path, tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    folder = write_beir(tmp_path / "tiny-beir")
    port = free_port()
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "w") as log:
        process = start_streamlit(tmp_path / "data", port, log)
        try:
            with server_diagnostics(process, log_path), sync_playwright() as p:
                browser = launch(p)
                try:
                    page = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
                    open_and_wait(page, share_link(f"http://127.0.0.1:{port}", tiny_bert_path))
                    page.locator(SIDEBAR).get_by_text("a pair file path", exact=True).click()
                    wait_idle(page)
                    box = page.locator(f'{SIDEBAR} input[aria-label="Pair file or BEIR folder path"]')
                    box.wait_for(timeout=WAIT_MS)
                    box.fill(str(folder))
                    box.press("Enter")
                    try:
                        page.wait_for_function(NDCG_CHART, timeout=WAIT_MS)
                    except Exception as exc:
                        raise AssertionError(f"no nDCG chart with error bars; the page shows:\n{page_text(page)}") from exc
                    wait_for_result(page)

                    assert page.locator('[data-testid="stException"]').count() == 0, page_text(page)
                    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, page_text(page)
                    assert "nDCG@10 retained" in page.locator(Y_TITLE).first.text_content()
                    assert page.locator(ERROR_BARS).count() > 0
                    body = page_text(page, 20000)
                    assert "Evaluation data: tiny-beir (3 queries, 9 documents)" in body, body
                    assert "Retrieval (nDCG@10)" in body and "95% CI" in body, body
                    shot = tmp_path / "explore-retrieval.png"
                    page.screenshot(path=str(shot), full_page=True)
                    keep = os.environ.get("SLIMLIB_SCREENSHOT_DIR")
                    if keep:
                        Path(keep).mkdir(parents=True, exist_ok=True)
                        shutil.copy(shot, Path(keep) / shot.name)
                finally:
                    browser.close()
        finally:
            stop_streamlit(process)
