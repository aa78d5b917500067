"""Real-browser checks of the Explore page's harder paths and of the Interactions and Present pages.

Debian chromium driven by Playwright against one `streamlit run app.py` (history in a temp dir; the
server is restarted if a failing test stopped it). Every test opens a tiny random BERT through a
`?cfg=` share link in its own browser context (a new session), so each step evaluates in a second
or two, and saves a screenshot under tmp_path (copied to $SLIMLIB_SCREENSHOT_DIR when set):

- a model folder that does not exist: an inline error while the previous model's chart, cards and
  controls stay; typing the previous folder back restores every layer box and the next change
  evaluates normally (no "would drop all");
- the baseline's own metric cards say they are the baseline, never a speed change against itself;
- the goal picker: a constraint nobody meets gives no best config, a reachable one marks the best
  (success line, star on the chart) and rides in the URL's `goal=`;
- Interactions: a 2 x 2 grid evaluated in the background with a progress bar, then the measured,
  predicted and difference heatmaps, the prediction being the product of the single-knob cells;
- Present: the chart, the numbers table and a working "Download as an HTML report" button.

The tests share the server's history, so none relies on another having run (or not): each uses
its own recipes and reads ids from the page.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from browser_support import (POINTS, WAIT_MS, free_port, launch, open_and_wait, page_text, require_browser, server_diagnostics,
                             start_streamlit, stop_streamlit, wait_for_speed, wait_idle)

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1400, "height": 2000}  # tall: the screenshots show the chart too
SIDEBAR = '[data-testid="stSidebar"]'
ERROR = '[data-testid="stAlertContentError"]'
WARNING = '[data-testid="stAlertContentWarning"]'
SUCCESS = '[data-testid="stAlertContentSuccess"]'
LEGEND = ".js-plotly-plot .legendtext"


# The server, the browser and one fresh session per test ---------------------------------------
class Server:
    """One `streamlit run` for the module; started again if a failing test's diagnostics stopped it."""

    def __init__(self, folder: Path):
        self.folder, self.runs = folder, 0
        self.process: subprocess.Popen | None = None
        self.url = self.log_path = self._log = None

    def ensure(self) -> "Server":
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.runs += 1
            port = free_port()
            self.log_path = self.folder / f"streamlit-{self.runs}.log"
            self._log = open(self.log_path, "w")
            self.process = start_streamlit(self.folder / "data", port, self._log)
            self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_streamlit(self.process)
        if self._log is not None:
            self._log.close()
        self.process = self._log = None


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    require_browser()
    server = Server(tmp_path_factory.mktemp("browser-pages"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(module_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


@pytest.fixture()
def server(module_server) -> Server:
    return module_server.ensure()


@pytest.fixture()
def page(browser, server):
    """A new browser context: its own cookies and websocket session, as a new visitor has."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    yield context.new_page()
    context.close()


def diagnostics(server: Server):
    """On a failure, add the server's log and the stacks of its threads in project code (this stops the
    server; the next test starts another)."""
    return server_diagnostics(server.process, server.log_path)


def wait_until(page, condition, timeout_ms: float = WAIT_MS, what: str = "condition") -> None:
    """Poll a Python condition; the page's own wait lets Playwright process events (page.url) meanwhile."""
    deadline = time.time() + timeout_ms / 1000
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the page shows:\n{page_text(page)}")
        page.wait_for_timeout(200)


def appear(page, locator, what: str, idle_s: float = 60) -> None:
    """Until `locator` is visible. A page that stays idle (no script run) for `idle_s` without it will
    not show it any more: fail then, with the page's text, rather than after the whole WAIT_MS."""
    deadline, idle_since = time.time() + WAIT_MS / 1000, None
    while not locator.is_visible():
        now = time.time()
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        idle_since = None if running else (idle_since or now)
        if now > deadline or (idle_since is not None and now - idle_since > idle_s):
            raise AssertionError(f"{what} never appeared; the page shows:\n{page_text(page)}")
        page.wait_for_timeout(250)


def settle(page, timeout_ms: float = WAIT_MS) -> None:
    """Until no script run is going on, seen three times 0.3 s apart. Streamlit shows its running
    indicator a moment after a run starts, so one look right after a click can fall in that gap
    (or between a run and the rerun it asks for)."""
    for _ in range(3):
        page.wait_for_timeout(300)
        wait_idle(page, timeout_ms)


def link(server: Server, model: Path, steps: list[dict] | None = None) -> str:
    """The share link that opens Explore on `model` with these steps."""
    from slimlib.ops.recipe import FORMAT, Recipe
    from ui.config import encode_recipe

    recipe = Recipe.from_dict({"format": FORMAT, "base_model": str(model), "steps": steps or []})
    return f"{server.url}/?cfg={encode_recipe(recipe)}"


def url_recipe(page):
    """The recipe in the page's address (the controls' share link)."""
    from ui.config import decode_recipe

    return decode_recipe(parse_qs(urlsplit(page.url).query)["cfg"][0])


def screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{name} looks blank"
    keep = os.environ.get("SLIMLIB_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)
    return path


def texts(page, selector: str) -> list[str]:
    """The text of every match (text content: SVG elements such as chart legends have no innerText)."""
    return [t.strip() for t in page.locator(selector).all_text_contents()]


def layer_boxes(page):
    """The drop_layers control's "layer N" checkboxes in the sidebar."""
    return page.locator(f'{SIDEBAR} [data-testid="stCheckbox"]').filter(has_text=re.compile(r"^\s*layer \d+\s*$"))


def layer_ticks(page) -> list[bool]:
    boxes = layer_boxes(page)
    return [boxes.nth(i).locator("input").is_checked() for i in range(boxes.count())]


CARDS_JS = """() => [...document.querySelectorAll('[data-testid="stMetric"]')].map(card => {
    const text = id => { const e = card.querySelector(`[data-testid="${id}"]`); return e ? e.innerText.trim() : ""; };
    return [text("stMetricLabel"), text("stMetricValue"), text("stMetricDelta")];
})"""


def cards(page) -> dict[str, tuple[str, str]]:
    """Metric card label -> (value, delta line or ""), read in one go (no rerun can interleave)."""
    return {label: (value, delta) for label, value, delta in page.evaluate(CARDS_JS)}


def go_to(page, title: str, heading: str) -> None:
    """Follow the sidebar menu to a page (same session) and wait for its script run."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
    page.locator("h1").filter(has_text=heading).first.wait_for(timeout=WAIT_MS)
    settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0, page_text(page)


def open_settled(page, url: str) -> None:
    """Open Explore and wait until its chart and cards are drawn and the shown points' speed is in."""
    open_and_wait(page, url)
    wait_for_speed(page)
    settle(page)


def enter(field, value: str) -> None:
    """Type into a text or number input and commit it (Streamlit applies on Enter)."""
    field.fill(value)
    field.press("Enter")


# 1. A model folder that does not exist -------------------------------------------------------
def test_a_missing_model_folder_keeps_the_page_and_going_back_evaluates_normally(page, server, tiny_bert_path, tmp_path):
    with diagnostics(server):
        open_settled(page, link(server, tiny_bert_path))
        source = page.locator(SIDEBAR).get_by_role("radio", name="local folder")
        if not source.is_checked():  # the link's folder already selects it
            page.locator(SIDEBAR).locator("label").filter(has_text=re.compile(r"^\s*local folder\s*$")).click()
            settle(page)
        assert source.is_checked()
        folder = page.locator(SIDEBAR).get_by_label("Folder", exact=True)
        assert folder.input_value() == str(tiny_bert_path)
        assert layer_ticks(page) == [True, True, True]
        points_before = page.locator(POINTS).count()

        missing = str(tmp_path / "no-such-model")
        enter(folder, missing)
        appear(page, page.locator(ERROR).filter(has_text="folder not found").first, "the folder-not-found error")
        settle(page)
        error = page.locator(ERROR).filter(has_text="folder not found").first.inner_text()
        assert missing in error and f"still showing {tiny_bert_path}" in error, error
        # Not a blank page: the previous model's chart, cards and controls are all still there.
        assert page.locator('[data-testid="stException"]').count() == 0, page_text(page)
        assert page.locator(POINTS).count() == points_before, page_text(page)
        assert len(cards(page)) == 5, page_text(page)
        assert "3 layers x 4 heads" in page_text(page, 20_000)
        assert layer_ticks(page) == [True, True, True]
        assert str(url_recipe(page).base_model) == str(tiny_bert_path)  # the link never names the missing folder
        screenshot(page, tmp_path, "explore_missing_model.png")

        enter(page.locator(SIDEBAR).get_by_label("Folder", exact=True), str(tiny_bert_path))
        page.wait_for_function(f"() => !document.querySelector('{ERROR}')", timeout=WAIT_MS)
        settle(page)
        assert layer_ticks(page) == [True, True, True], "every layer box is ticked again"
        assert page.locator(ERROR).count() == 0, page_text(page)

        before = page.locator(POINTS).count()
        layer_boxes(page).filter(has_text="layer 1").locator("label").click()
        page.wait_for_function(f"() => document.querySelectorAll('{POINTS}').length > {before}"
                               f" || !!document.querySelector('{ERROR}')", timeout=WAIT_MS)
        settle(page)
        wait_for_speed(page)
        shown = page_text(page, 20_000)
        assert "would drop all" not in shown, shown
        assert page.locator(ERROR).count() == 0, shown
        assert page.locator(POINTS).count() == before + 1, shown
        assert layer_ticks(page) == [True, False, True]
        recipe = url_recipe(page)
        assert str(recipe.base_model) == str(tiny_bert_path)
        assert [(s["op"], s.get("layers")) for s in recipe.to_dict()["steps"]] == [("drop_layers", [1])], recipe.to_json()
        screenshot(page, tmp_path, "explore_back_to_model.png")


# 2. The baseline's own cards -----------------------------------------------------------------
def test_the_baseline_cards_say_baseline_and_show_no_speed_change_against_itself(page, server, tiny_bert_path, tmp_path):
    with diagnostics(server):
        open_settled(page, link(server, tiny_bert_path))
        screenshot(page, tmp_path, "explore_baseline_cards.png")
        shown = cards(page)
        values, deltas = {k: v for k, (v, _) in shown.items()}, {k: d for k, (_, d) in shown.items()}
        assert set(values) >= {"Size", "Parameters", "Speed", "Accuracy (STS x100)", "Fidelity (cosine)"}, values
        # Speed is the baseline's own sentences/s: the absolute number depends on the machine's load.
        assert re.fullmatch(r"[\d,]+ sent/s", values["Speed"]), values
        assert values["Fidelity (cosine)"] == "1.0000", values
        # The same model timed twice is noise, not a change: no percentage, no "1.66x", and it says baseline.
        for label, delta in deltas.items():
            assert delta.lower() == "baseline", f"{label} card of the baseline shows {delta!r}: {deltas}"
        speed_card = page.locator('[data-testid="stMetric"]').filter(has_text="Speed").first.inner_text()
        assert not re.search(r"\d\s*x\b|%", speed_card), speed_card
        assert "baseline (measured here)" in texts(page, LEGEND)


# 3. The goal picker ----------------------------------------------------------------------------
def _goal_in_url(page):
    """The goal in the page's address (the share link's `goal=`), or None."""
    from slimlib.report.goal import Goal

    text = parse_qs(urlsplit(page.url).query).get("goal", [""])[0]
    return Goal.parse(text) if text else None


def _set_sts_bound(page, bound: float) -> None:
    enter(page.locator('input[aria-label="STS retained at least"]'), f"{bound:g}")

    def applied() -> bool:
        goal = _goal_in_url(page)
        return goal is not None and bool(goal.constraints) and goal.constraints[0].bound == pytest.approx(bound)

    wait_until(page, applied, what=f"the URL's goal to carry the bound {bound:g}")
    settle(page)


def test_the_goal_marks_the_best_config_and_rides_in_the_url(page, server, tiny_bert_path, stsb_dev, tmp_path):
    with diagnostics(server):
        open_settled(page, link(server, tiny_bert_path))
        assert _goal_in_url(page) is None
        toggle = page.locator('[data-testid="stCheckbox"]').filter(has_text="Rank the configs by a goal")
        toggle.locator("label").click()
        page.locator('input[aria-label="STS retained at least"]').wait_for(timeout=WAIT_MS)
        settle(page)
        assert toggle.locator("input").is_checked()

        # A constraint nothing meets: no best config, the closest one named instead, no star.
        _set_sts_bound(page, 20.0)
        appear(page, page.locator(WARNING).filter(has_text="No evaluated config meets the goal yet").first, "the no-config-meets-the-goal warning")
        assert page.locator(SUCCESS).filter(has_text="Best for your goal").count() == 0
        assert "best for your goal" not in texts(page, LEGEND)
        goal = _goal_in_url(page)
        assert [(c.metric, c.op, c.bound) for c in goal.constraints] == [("sts_retained", ">=", 20.0)]

        # One the baseline meets (it retains all of its own STS): a best config, marked and listed.
        _set_sts_bound(page, 0.9)
        best = page.locator(SUCCESS).filter(has_text="Best for your goal").first
        appear(page, best, "the best-for-your-goal marker")
        line = best.inner_text()
        assert re.search(r"Best for your goal \(STS retained at least 90\.0%; maximise Speedup\): #\d+ .+orange star", line), line
        assert page.locator(WARNING).filter(has_text="No evaluated config meets").count() == 0
        assert "best for your goal" in texts(page, LEGEND)
        assert page.locator('[data-testid="stDataFrame"]').count() >= 1  # the goal table
        goal = _goal_in_url(page)
        assert [(c.metric, c.op, c.bound) for c in goal.constraints] == [("sts_retained", ">=", 0.9)]
        assert goal.objective == "speedup"
        assert "goal=" in page.url
        screenshot(page, tmp_path, "explore_goal.png")


# 4. Interactions -------------------------------------------------------------------------------
NUMBER = re.compile(r"^[+-]?\d+\.\d+$")


def _heatmap_numbers(chart) -> list[float]:
    """The values printed in a heatmap's cells."""
    cells = [t.strip() for t in chart.locator(".heatmaplayer text").all_text_contents()]
    return [float(t) for t in cells if NUMBER.match(t)]


def test_interactions_evaluates_a_small_grid_in_the_background(page, server, tiny_bert_path, tmp_path):
    with diagnostics(server):
        open_settled(page, link(server, tiny_bert_path))
        go_to(page, "Interactions", "Interactions")
        # Knob A: heads pruned per layer, knob B: bits (the defaults); keep one setting of each: a 2 x 2 grid.
        # (Every cell is a quick evaluation of the tiny model: seconds.)
        for tag in ("heads -3/layer", "heads -2/layer", "4-bit", "8-bit"):
            page.locator(f'[aria-label="Remove {tag}"]').first.click()
            page.keyboard.press("Escape")  # a click in the tags may open the options list
        tags = texts(page, '[data-testid="stMultiSelectTagsContainer"] [data-tag]')
        assert tags == ["heads -1/layer", "16-bit"], tags
        # (Streamlit draws a button with help text twice, one copy hidden: only the visible one counts.)
        button = page.locator('[data-testid="stButton"] button').filter(has_text="Evaluate the grid", visible=True)
        button.filter(has_text="of 4 left").wait_for(timeout=WAIT_MS)  # the page has rerun on the 2 x 2 grid
        settle(page)
        show = page.locator('[data-testid="stRadio"]').filter(has_text="STS retained")
        # Size: deterministic, and far from 1 for 16-bit, so the product check below has teeth.
        show.get_by_text("Size", exact=True).click()
        settle(page)
        assert show.get_by_role("radio", name="Size").is_checked()

        label = button.inner_text()
        # The baseline cell may already be in the history (every Explore visit evaluates it); the rest is not.
        assert re.search(r"Evaluate the grid \([34] of 4 left\)", label), label
        button.click()
        # It runs in the background: the page shows its progress (and a Stop button) while it does.
        page.wait_for_function(
            "() => !!document.querySelector('[data-testid=\"stProgress\"]')"
            " || document.body.innerText.includes('All 4 cells measured')", timeout=WAIT_MS)
        progress_seen = page.locator('[data-testid="stProgress"]').count() > 0
        if progress_seen:
            progress = page.locator('[data-testid="stProgress"]').first.inner_text()
            assert "interaction grid" in progress, progress
            assert page.locator('[data-testid="stButton"] button').filter(has_text="Stop", visible=True).count() == 1
        # Done: every cell in the history, the job's panel gone and its notice shown (a run can briefly show
        # all four cells while the job, its last cell stored, has not returned yet).
        page.wait_for_function(
            "() => document.body.innerText.includes('All 4 cells measured')"
            " && !document.querySelector('[data-testid=\"stProgress\"]')"
            " && [...document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')]"
            ".some(e => e.innerText.includes('done in'))", timeout=WAIT_MS)
        settle(page)
        assert progress_seen, "no progress bar was shown while the grid ran"
        assert page.locator('[data-testid="stProgress"]').count() == 0
        done = page.locator(SUCCESS).filter(has_text=re.compile(r"interaction grid .*: done in \d+ s"))
        assert done.count() == 1, page_text(page)
        assert page.locator('[data-testid="stException"]').count() == 0, page_text(page)

        charts = page.locator('[data-testid="stPlotlyChart"]').filter(visible=True)
        assert charts.count() == 3
        titles = [charts.nth(i).locator(".gtitle").text_content().strip() for i in range(3)]  # SVG: no innerText
        assert titles == ["Size: measured", "Size: if independent", "measured - if independent"], titles
        measured, predicted, difference = (_heatmap_numbers(charts.nth(i)) for i in range(3))
        assert len(measured) == 4 and len(predicted) == 4, (measured, predicted)
        assert "-" not in [t.strip() for t in charts.nth(0).locator(".heatmaplayer text").all_text_contents()]
        assert 1.0 in measured  # the off x off corner: the baseline against itself

        caption = page.get_by_text("Largest interaction:", exact=False).first.inner_text()
        found = re.search(r"heads -1/layer with 16-bit: measured (\d\.\d+), independence predicts (\d\.\d+) \(([+-]\d\.\d+)\)",
                          caption)
        assert found, caption
        both, expected, diff = (float(g) for g in found.groups())
        assert both in measured and expected in predicted
        # Independence predicts the product of the two single-knob cells (over the corner, 1.0).
        singles = list(measured)
        for value in (1.0, both):
            singles.remove(value)
        assert expected == pytest.approx(singles[0] * singles[1], abs=0.002), (measured, expected)
        assert min(measured) < 0.8, measured  # 16-bit weights: about half the bytes
        assert diff == pytest.approx(both - expected, abs=0.002)
        assert len(difference) >= 1
        screenshot(page, tmp_path, "interactions.png")


# 5. Present --------------------------------------------------------------------------------------
def test_present_shows_the_chart_the_numbers_and_a_report_download(page, server, tiny_bert_path, tmp_path):
    with diagnostics(server):
        open_settled(page, link(server, tiny_bert_path, [{"op": "prune_ffn", "keep": 0.5}]))
        # A compressed config's cards still show its change against the baseline.
        deltas = {label: delta for label, (_, delta) in cards(page).items()}
        assert re.search(r"-\d+(\.\d+)?%", deltas["Parameters"]), deltas
        go_to(page, "Present", "FFN 50%")
        title = page.locator("h1").first.inner_text()
        assert title.endswith(": FFN 50%") and str(tiny_bert_path) in title, title

        chart = page.locator('[data-testid="stPlotlyChart"]').filter(visible=True)
        assert chart.count() == 1
        assert chart.locator(".scatterlayer .trace path.point").count() >= 2  # the baseline and this config
        table = page.locator(".present-table table").first
        table.locator("th").first.wait_for(timeout=WAIT_MS)
        header = [t.strip() for t in table.locator("th").all_inner_texts()]
        assert header == ["metric", "baseline", "this config", "ratio", "how"], header
        rows = {r.locator("td").first.inner_text().strip(): [c.strip() for c in r.locator("td").all_inner_texts()]
                for r in table.locator("tr").all() if r.locator("td").count()}
        assert {"Parameters", "Size", "sentences / s", "Fidelity"} <= set(rows), rows
        ratio = float(rows["Parameters"][3])
        assert 0 < ratio < 1, rows["Parameters"]  # half the FFN is fewer parameters
        assert float(rows["Fidelity"][2]) <= 1.0
        assert page.get_by_text("How measured:", exact=False).count() >= 1

        button = page.locator('[data-testid="stDownloadButton"] button').filter(has_text="Download as an HTML report",
                                                                              visible=True)
        assert button.count() == 1
        with page.expect_download(timeout=120_000) as info:
            button.click()
        report = Path(info.value.path()).read_text(encoding="utf-8")
        assert "<html" in report.lower() and "FFN 50%" in report
        settle(page)
        screenshot(page, tmp_path, "present.png")
