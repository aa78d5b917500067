"""A search running in a background process, for the app.

The app starts `python -m slimlib search ... --study NAME` as a subprocess: it survives page reruns,
keeps Dask out of the Streamlit server, and writes every trial to the study store, which is all the
page reads. Stop sends SIGINT, which the driver turns into "re-queue what is in flight", so the
study can be resumed later. Plain Python; no Streamlit here.
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
                   storage: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "slimlib", "search", "--study", study, "--space", str(space_file),
           "--n-trials", str(n_trials), "--objectives", objectives, "--engine", engine]
    if workers and engine == "local":
        cmd += ["--workers", str(workers)]
    if data:
        cmd += ["--data", str(data)]
    if not quick:
        cmd.append("--full")
    if storage:
        cmd += ["--storage", storage]
    return cmd


class SearchProcess:
    """One search subprocess; its output goes to a log file next to the space file."""

    def __init__(self, study: str, command: list[str]):
        self.study = study
        self.command = command
        self.log_path = searches_dir() / f"{study}.log"
        self.started = time.time()
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> None:
        """Ask the driver to stop (SIGINT): trials in flight are re-queued, the rest is kept."""
        if self.running:
            self.proc.send_signal(signal.SIGINT)

    def kill(self, grace: float = 20) -> None:
        self.stop()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def log_tail(self, lines: int = 8) -> list[str]:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]
        except OSError:
            return []
