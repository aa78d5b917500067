"""A search running in a background process, for the app.

The app starts `python -m slimlib search ... --study NAME` as a subprocess: it survives page reruns,
keeps Dask out of the Streamlit server, and writes every trial to the study store, which is all the
page reads. Stop sends SIGINT, which the driver turns into "re-queue what is in flight", so the
study can be resumed later; a search ended that way is "stopped", not "failed" (its exit code 130
is the CLI's way of saying "interrupted"). Plain Python; no Streamlit here.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from ..paths import PROJECT_DIR, data_dir


def searches_dir() -> Path:
    path = data_dir() / "searches"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_space(study: str, base_model: str, axes: dict) -> Path:
    """The space as a grid-format file the search command reads with --space."""
    path = searches_dir() / f"{study}.space.json"
    path.write_text(json.dumps({"format": "slimlib.grid/v1", "base_model": base_model, "grid": axes}, indent=2))
    return path


def search_command(study: str, space_file: Path, n_trials: int, objectives: str, engine: str = "local",
                   workers: int | None = None, data: str | None = None, quick: bool = True,
                   storage: str | None = None, threads: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "slimlib", "search", "--study", study, "--space", str(space_file),
           "--n-trials", str(n_trials), "--objectives", objectives, "--engine", engine]
    if workers and engine == "local":
        cmd += ["--workers", str(workers)]
    if threads:
        cmd += ["--threads-per-worker", str(threads)]
    if data:
        cmd += ["--data", str(data)]
    if not quick:
        cmd.append("--full")
    if storage:
        cmd += ["--storage", storage]
    return cmd


# Stopping a local cluster ends worker processes mid-trial; the multiprocessing resource tracker then
# reports their semaphores as "leaked" (it cleans them up itself). Noise for a user who pressed Stop.
QUIET_WARNINGS = "ignore::UserWarning:multiprocessing.resource_tracker"
INTERRUPTED = (130, -signal.SIGINT)  # the CLI's exit code after an interrupt; killed by SIGINT itself
NOISE = ("resource_tracker", "warnings.warn(", "ResourceWarning", "Enable tracemalloc", "Failed to load")


class SearchProcess:
    """One search subprocess; its output goes to a log file next to the space file."""

    def __init__(self, study: str, command: list[str]):
        self.study = study
        self.command = command
        self.log_path = searches_dir() / f"{study}.log"
        self.started = time.time()
        self.stop_requested: float | None = None
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")])),
               "PYTHONWARNINGS": ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET_WARNINGS]))}
        self.proc = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    @property
    def state(self) -> str:
        """running, finished (every trial ran), stopped (by stop(), trials kept for a resume) or failed."""
        code = self.proc.poll()
        if code is None:
            return "running"
        if code == 0:
            return "finished"
        if self.stop_requested is not None and code in INTERRUPTED:
            return "stopped"
        return "failed"

    def stop(self) -> None:
        """Ask the driver to stop (SIGINT): trials in flight are re-queued, the rest is kept."""
        if self.running:
            self.stop_requested = time.time()
            self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the process to end; True if it has."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self, grace: float = 20) -> None:
        self.stop()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def log_tail(self, lines: int = 8) -> list[str]:
        """The last lines of the log, without library warnings (the tracker's, Dask's, torchao's)."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                kept = (line.rstrip("\n") for line in handle if line.strip() and not any(n in line for n in NOISE))
                return list(deque(kept, maxlen=lines))
        except OSError:
            return []
