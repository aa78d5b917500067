"""Long work (distillation, full evaluations, model exports) in a background thread per session.

The page stays responsive: it polls the job from a fragment that reruns every second, draws a
progress bar from `message`/`fraction`, and a Stop button calls `stop()`, which sets the event that
the pipeline's `should_stop` reads. No Streamlit calls happen in the thread (it has no script
context); the job only records its progress and its outcome. Plain Python, so tests drive it directly.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

from slimlib.errors import Cancelled, SlimlibError

Work = Callable[[Callable[[str, float], None], Callable[[], bool]], Any]


class Job:
    def __init__(self, label: str, work: Work):
        self.label = label
        self._work = work
        self._stop = threading.Event()
        self.message = "starting"
        self.fraction = 0.0
        self.result: Any = None
        self.error: str | None = None  # a one-line user-facing message
        self.details: str | None = None  # a traceback, for bugs only
        self.cancelled = False
        self.started = time.time()
        self.finished: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"slimlib-job-{label}", daemon=True)

    # Control ----------------------------------------------------------------------------
    def start(self) -> "Job":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.message = "stopping at the next checkpoint..."

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.done

    # State ------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started

    def _progress(self, message: str, fraction: float) -> None:
        if not self._stop.is_set():
            self.message = message
        self.fraction = min(max(float(fraction), 0.0), 1.0)

    def _run(self) -> None:
        try:
            self.result = self._work(self._progress, self.should_stop)
        except Cancelled:
            self.cancelled = True
        except SlimlibError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug: keep the traceback for the details box
            self.error = f"{type(exc).__name__}: {exc}"
            self.details = traceback.format_exc()
        finally:
            self.finished = time.time()
