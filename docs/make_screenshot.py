"""Make docs/screenshot.png: the Explore page in a real headless Chromium, against a `make run`-style
server (`streamlit run app.py` on 127.0.0.1, a free port, its history in a fresh temporary folder).

A config is opened through a share link, so the trade-off chart has a point besides the baseline;
the page is captured down to the chart and shrunk to a palette image (under ~300 KB).

    apt-get install -y chromium          # if /usr/bin/chromium is missing
    .venv/bin/python docs/make_screenshot.py [--out docs/screenshot.png]

Minutes on a busy 2-core machine (each config is a quick evaluation of all-MiniLM-L6-v2).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser_support import CHROMIUM, FLAGS, WAIT_MS, free_port, start_streamlit, stop_streamlit  # noqa: E402

# Opened one after another (each is stored in the history, so each is a point on the last one's chart).
CONFIGS = [
    [{"op": "drop_layers", "keep": 4}],
]
CHART = ".js-plotly-plot .scatterlayer"
CARDS = "document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 4"


def open_and_settle(page, url: str) -> None:
    """Open the link, wait for the chart and the metric cards, then (briefly) for the script run to end."""
    page.goto(url)
    page.wait_for_selector(CHART, timeout=WAIT_MS)
    page.wait_for_function(f"() => {CARDS}", timeout=WAIT_MS)
    try:
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    except Exception:  # noqa: BLE001 - a fragment may keep rerunning; the chart is drawn
        pass
VIEWPORT = {"width": 1400, "height": 1500}


def link(url: str, steps: list[dict]) -> str:
    from ui.config import encode_recipe
    from slimlib.ops.recipe import FORMAT, Recipe

    recipe = Recipe.from_dict({"format": FORMAT, "base_model": "all-MiniLM-L6-v2", "steps": steps})
    return f"{url}/?cfg={encode_recipe(recipe)}"


def shrink(path: Path, width: int = 1200, bottom: float | None = None) -> None:
    """Cut the page below the chart, scale it to `width` and store it as a palette PNG."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    if bottom:
        image = image.crop((0, 0, image.width, min(image.height, int(bottom))))
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args(argv)
    if not CHROMIUM.is_file():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="slimlib-screenshot-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(Path(tmp) / "streamlit.log", "w") as log:
            # Speed timed in the evaluation's own call: a point is complete when its page run ends (on a busy
            # machine a background timing can take longer than a screenshot should wait).
            os.environ.setdefault("SLIMLIB_SERVER_BACKGROUND_SPEED", "0")
            server = start_streamlit(Path(tmp) / "data", port, log)
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
                    for index, steps in enumerate(CONFIGS):
                        page = browser.new_context(viewport=VIEWPORT).new_page()  # a new session per link
                        open_and_settle(page, link(url, steps))
                        if index < len(CONFIGS) - 1:
                            page.context.close()
                    page.wait_for_timeout(1000)  # the chart's last redraw
                    chart = page.locator(".js-plotly-plot").first.bounding_box()
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(args.out), full_page=True)
                    browser.close()
            finally:
                stop_streamlit(server)
    shrink(args.out, bottom=chart["y"] + chart["height"] + 24 if chart else None)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
