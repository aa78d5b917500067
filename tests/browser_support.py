"""What the real-browser tests share: Debian chromium flags, a Streamlit server on a free loopback
port, and waiting for a page to finish its script run with the chart drawn."""
from __future__ import annotations

import contextlib
import os
import signal
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
WAIT_MS = WAIT_S * 1000
POINTS = ".js-plotly-plot .scatterlayer .trace path.point"


def require_browser():
    """The playwright sync API, or a skip when chromium or playwright is missing."""
    if not CHROMIUM.is_file():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    return pytest.importorskip("playwright.sync_api")


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


def server_env(data_dir: Path) -> dict:
    """The server's environment: the test run's data folder, and the product's own speed-timing choice
    (conftest forces in-call timing for in-process tests; SLIMLIB_SERVER_BACKGROUND_SPEED sets it here)."""
    env = {k: v for k, v in os.environ.items() if k != "SLIMLIB_BACKGROUND_SPEED"}
    if os.environ.get("SLIMLIB_SERVER_BACKGROUND_SPEED"):
        env["SLIMLIB_BACKGROUND_SPEED"] = os.environ["SLIMLIB_SERVER_BACKGROUND_SPEED"]
    return {**env, "SLIMLIB_DATA_DIR": str(data_dir)}


def start_streamlit(data_dir: Path, port: int, log, *extra: str) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:port with its history in data_dir; returns once healthy.

    faulthandler is on, so `server_diagnostics` can have the server print every thread's stack.
    """
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false", *extra],
        cwd=ROOT, env=server_env(data_dir), stdout=log, stderr=subprocess.STDOUT)
    wait_healthy(f"http://127.0.0.1:{port}", process, 180)
    return process


def stop_streamlit(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)


def wait_idle(page, timeout_ms: float = WAIT_MS) -> None:
    """Until the script run finishes (Streamlit shows a 'running' status widget meanwhile)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def page_text(page, limit: int = 3000) -> str:
    """What the page shows, for failure messages."""
    try:
        return page.locator("body").inner_text(timeout=5000)[:limit]
    except Exception as exc:  # the page itself may be what broke
        return f"(page text unavailable: {exc})"


def wait_for_result(page, timeout_ms: float = WAIT_MS) -> None:
    """Until the chart has points, the metric cards are drawn and no script run is going on.

    Points alone are not enough: the baseline point is drawn before the config's own evaluation,
    and between two script runs the status widget is briefly absent. An exception shown in the page
    fails at once, with the page's text, rather than when the wait runs out.
    """
    done = ("document.querySelectorAll('%s').length > 0"
            " && document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 4"
            " && !document.querySelector('[data-testid=\"stStatusWidget\"]')" % POINTS)
    try:
        page.wait_for_function(f"() => ({done}) || !!document.querySelector('[data-testid=\"stException\"]')",
                               timeout=timeout_ms)
    except Exception as exc:
        raise AssertionError(f"no result within {timeout_ms / 1000:.0f} s; the page shows:\n{page_text(page)}") from exc
    if page.locator('[data-testid="stException"]').count():
        raise AssertionError(f"the page shows an exception:\n{page_text(page)}")
    wait_idle(page, timeout_ms)


PROJECT_FRAMES = ("/slimlib/", "/ui/", "app.py", "/pages/")


def _server_report(log_text: str, lines: int) -> str:
    """The log without faulthandler's dump, then the dumped threads that were running project code."""
    blocks = log_text.split("\n\n")
    threads = [b for b in blocks if b.lstrip().startswith(("Thread 0x", "Current thread 0x"))]
    ours = [b for b in threads if any(frame in b for frame in PROJECT_FRAMES)]
    rest = [b for b in blocks if b not in threads]
    log = "\n".join("\n\n".join(rest).splitlines()[-lines:])
    return (f"--- streamlit log (last {lines} lines) ---\n{log}\n--- {len(ours)} of {len(threads)} server threads "
            f"were in project code ---\n" + "\n\n".join(ours))


@contextlib.contextmanager
def server_diagnostics(process: subprocess.Popen, log_path: Path, lines: int = 60):
    """On a failure inside the block, add what the server was doing: the stacks of its threads that
    run project code (faulthandler prints them on SIGABRT, which also stops the server) and its log."""
    try:
        yield
    except Exception as exc:
        if process.poll() is None:
            process.send_signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
        report = _server_report(Path(log_path).read_text(errors="replace"), lines)
        raise AssertionError(f"{exc}\n{report}") from exc


def open_and_wait(page, url: str, timeout_ms: float = WAIT_MS) -> None:
    """Open the Explore page and wait until its chart, metrics and script run are done."""
    page.goto(url)
    wait_for_result(page, timeout_ms)


def metric_texts(page) -> dict[str, str]:
    """Metric card label -> value as the browser shows them."""
    out = {}
    for card in page.locator('[data-testid="stMetric"]').all():
        label = card.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = card.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


# Explore shows a control change's point before its speed: the speed is timed in a background thread
# (ui/speed_timer.py) while a caption says so, and the page reruns once it lands.
PENDING_SPEED = "timing against the baseline in the background"


def wait_for_speed(page, timeout_ms: float = WAIT_MS) -> None:
    """Until no point on the page still waits for its background speed timing and no script run is
    going on (twice, half a second apart: the page reruns when a timing lands)."""
    settled = ("() => !document.body.innerText.includes('%s')"
               " && !document.querySelector('[data-testid=\"stStatusWidget\"]')" % PENDING_SPEED)
    for _ in range(2):
        try:
            page.wait_for_function(settled, timeout=timeout_ms)
        except Exception as exc:
            raise AssertionError(f"speed still pending after {timeout_ms / 1000:.0f} s; the page shows:\n"
                                 f"{page_text(page)}") from exc
        page.wait_for_timeout(500)
