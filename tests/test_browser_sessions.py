"""Real browsers against one server: six sessions at once, and an upload above the size cap.

Six Chromium contexts (separate cookies and websocket sessions, as six people would be) open
six different shared links on one `streamlit run` at the same time. Size, parameters, STS and
fidelity are deterministic, so each session must show exactly what the same link shows when it
is opened alone on a fresh server (fresh history, so nothing is served from another run's store).
The server's peak RSS is printed and bounded. (An in-process variant with six AppTest threads was
dropped: AppTest patches global config while it runs, so concurrent AppTests interfere with each
other, not the app.) Then one page uploads a pair file above server.maxUploadSize:
the browser says what the cap is, no traceback is shown, and the page keeps its chart.
"""
from __future__ import annotations

from pathlib import Path

from browser_support import (POINTS, WAIT_MS, free_port, launch, metric_texts, open_and_wait, require_browser,
                             server_diagnostics, start_streamlit, stop_streamlit, wait_for_result, wait_idle)

DETERMINISTIC = ("Size", "Parameters", "Accuracy (STS x100)", "Fidelity (cosine)")
RECIPES = [  # six different training-free recipes for the tiny BERT (3 layers, 4 heads)
    [],
    [{"op": "quantize", "bits": 16}],
    [{"op": "prune_ffn", "keep": 0.5}],
    [{"op": "prune_heads", "per_layer": 1}],
    [{"op": "drop_layers", "layers": [1]}],
    [{"op": "quantize", "bits": 4}],
]
UPLOAD_CAP_MB = 2  # the real config says 50; a small cap keeps the oversized file small
# Six tiny-model sessions finish in about a minute on two busy cores; a stuck one should fail well
# before CI's limit, with the server's thread stacks in the message.
SESSIONS_WAIT_MS = min(WAIT_MS, 300_000)


def _links(model_path: Path, port: int) -> list[str]:
    from slimlib.ops.recipe import FORMAT, Recipe
    from ui.config import encode_recipe

    links = []
    for steps in RECIPES:
        recipe = Recipe.from_dict({"format": FORMAT, "base_model": str(model_path), "steps": steps})
        links.append(f"http://127.0.0.1:{port}/?cfg={encode_recipe(recipe)}")
    return links


def _deterministic(page) -> dict:
    shown = metric_texts(page)
    return {key: shown.get(key) for key in DETERMINISTIC}


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve(tmp_path: Path, name: str, *extra: str):
    port = free_port()
    log = open(tmp_path / f"{name}.log", "w")
    return start_streamlit(tmp_path / name, port, log, *extra), port, log


def _log_path(log) -> Path:
    return Path(log.name)


def test_six_browser_sessions_at_once_match_their_solo_runs(tiny_bert_path, tmp_path):
    sync_api = require_browser()
    together: list[dict] = []
    server, port, log = _serve(tmp_path, "together", "--server.maxUploadSize", str(UPLOAD_CAP_MB))
    try:
        with sync_api.sync_playwright() as p, server_diagnostics(server, _log_path(log)):
            browser = launch(p)
            pages = [browser.new_context().new_page() for _ in RECIPES]
            for page, link in zip(pages, _links(tiny_bert_path, port)):
                page.goto(link, wait_until="commit")  # all six scripts run on the server at once
            for page in pages:
                wait_for_result(page, SESSIONS_WAIT_MS)
                together.append(_deterministic(page))
            _upload_above_the_cap(pages[0], tmp_path)
            browser.close()
        peak_mb = _peak_rss_mb(server.pid)
        print(f"\nserver peak RSS with six browser sessions: {peak_mb:.0f} MB")
        assert peak_mb < 4000, "six tiny-model sessions should stay well within the cache limits"
    finally:
        stop_streamlit(server)
        log.close()

    alone: list[dict] = []
    server, port, log = _serve(tmp_path, "alone")
    try:
        with sync_api.sync_playwright() as p, server_diagnostics(server, _log_path(log)):
            browser = launch(p)
            for link in _links(tiny_bert_path, port):
                context = browser.new_context()
                page = context.new_page()
                open_and_wait(page, link, SESSIONS_WAIT_MS)
                alone.append(_deterministic(page))
                context.close()
            browser.close()
    finally:
        stop_streamlit(server)
        log.close()

    assert all(None not in row.values() for row in alone), alone
    assert len({tuple(row.values()) for row in alone}) == len(RECIPES), "the six recipes should differ"
    assert together == alone


def _upload_above_the_cap(page, tmp_path: Path) -> None:
    page.get_by_text("upload a pair file", exact=True).click()
    wait_idle(page)
    big = tmp_path / "too-big.csv"
    row = "A man is playing a guitar.\tA person plays an instrument.\t4.2\n"
    with open(big, "w", encoding="utf-8") as out:
        out.write("sentence1\tsentence2\tscore\n")
        out.write(row * ((UPLOAD_CAP_MB + 1) * 1024 * 1024 // len(row)))
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(big))
    uploader = page.locator('[data-testid="stFileUploader"]')
    uploader.get_by_text(f"{UPLOAD_CAP_MB}", exact=False).first.wait_for()
    message = uploader.inner_text()
    assert "or smaller" in message and f"{UPLOAD_CAP_MB}" in message, message
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(POINTS).count() >= 1  # the chart and its points are still there
