"""Make docs/screenshot.png: the Explore page in a real headless Chromium, against a `make run`-style
server (`streamlit run app.py` on 127.0.0.1, a free port, its history in a fresh temporary folder).

A few configs are opened through share links first, so the trade-off chart has points besides the
baseline; then the page is captured and the PNG is shrunk to a palette image (under ~300 KB).

    apt-get install -y chromium          # if /usr/bin/chromium is missing
    .venv/bin/python docs/make_screenshot.py [--out docs/screenshot.png]

Minutes on a busy 2-core machine (each config is a quick evaluation of all-MiniLM-L6-v2).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser_support import (CHROMIUM, FLAGS, WAIT_MS, free_port, open_and_wait, start_streamlit,  # noqa: E402
                             stop_streamlit, wait_for_speed)

# Opened one after another (each is stored in the history, so each is a point on the last one's chart).
CONFIGS = [
    [{"op": "prune_ffn", "keep": 0.5}],
    [{"op": "drop_layers", "keep": 4}],
    [{"op": "prune_heads", "per_layer": 4}, {"op": "quantize", "bits": 4}],
]
VIEWPORT = {"width": 1400, "height": 1500}


def link(url: str, steps: list[dict]) -> str:
    from ui.config import encode_recipe
    from slimlib.ops.recipe import FORMAT, Recipe

    recipe = Recipe.from_dict({"format": FORMAT, "base_model": "all-MiniLM-L6-v2", "steps": steps})
    return f"{url}/?cfg={encode_recipe(recipe)}"


def shrink(path: Path, width: int = 1200) -> None:
    from PIL import Image

    image = Image.open(path).convert("RGB")
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
            server = start_streamlit(Path(tmp) / "data", port, log)
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
                    for steps in CONFIGS:
                        page = browser.new_context(viewport=VIEWPORT).new_page()  # a new session per link
                        open_and_wait(page, link(url, steps), WAIT_MS)
                        wait_for_speed(page, WAIT_MS)
                        page.context.close()
                    page = browser.new_context(viewport=VIEWPORT).new_page()
                    open_and_wait(page, link(url, CONFIGS[-1]), WAIT_MS)
                    wait_for_speed(page, WAIT_MS)
                    page.wait_for_timeout(1000)  # the chart's last redraw
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(args.out), full_page=False)
                    browser.close()
            finally:
                stop_streamlit(server)
    shrink(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
