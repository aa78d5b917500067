"""Speed of interactive points, timed in the background.

A control change shows its point as soon as size, STS and fidelity are known (about half the work of a
quick evaluation); its speed, timed against the baseline in the same call, follows from one
background thread per server process and is written into the same history row. A newer request
(the user moved on) stops the timing in progress within one batch, so timings never queue up behind
the user; a point left pending is timed again when it is shown again.
"""
from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass

from slimlib.errors import Cancelled
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import Recipe
from slimlib.workflows.evaluate import speed_pending, time_quick_speed

from .resources import history


@dataclass
class _Request:
    entry_id: int
    model_hash: str
    data_key: str
    data_label: str
    result: dict
    compressed_model: object | None  # None: re-apply the recipe (a point shown again later)


class SpeedTimer:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._next: _Request | None = None
        self._generation = 0  # bumped by every request: a timing of an older generation stops
        self._busy_with: int | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    def submit(self, entry, compressed_model=None) -> None:
        """Time this history entry's speed next, stopping any timing in progress."""
        if not speed_pending(entry.result):
            return
        request = _Request(entry.id, entry.model_hash, entry.data_key, entry.data_label, entry.result,
                           compressed_model)
        with self._lock:
            if self._closing or (self._busy_with == entry.id and self._next is None):
                return  # shutting down, or already being timed
            self._generation += 1
            self._next = request
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="slimlib-speed-timer", daemon=True)
                self._thread.start()
            self._lock.notify()

    def interrupt(self) -> None:
        """Stop the timing in progress (a foreground evaluation needs the cores and the base model)."""
        with self._lock:
            self._generation += 1

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop and join the thread (at exit: a daemon thread still inside torch when the interpreter
        finalizes aborts the process)."""
        with self._lock:
            self._closing = True
            self._generation += 1
            self._next = None
            thread = self._thread
            self._lock.notify_all()
        if thread is not None:
            thread.join(timeout)

    def busy(self) -> bool:
        with self._lock:
            return self._busy_with is not None or self._next is not None

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._next is None:
                    if self._closing or not self._lock.wait(timeout=60):
                        self._thread = None
                        return
                request, self._next = self._next, None
                generation, self._busy_with = self._generation, request.entry_id
            try:
                self._time(request, lambda g=generation: self._generation != g)
            except Cancelled:
                pass  # left pending: timed again when shown again
            except Exception:  # noqa: BLE001 - a failed timing leaves the point pending, never breaks the page
                pass
            finally:
                with self._lock:
                    self._busy_with = None

    @staticmethod
    def _time(request: _Request, should_stop) -> None:
        model = request.compressed_model
        if model is None:
            from slimlib.model.base import load_base

            recipe = Recipe.from_dict(request.result["recipe"])
            model = apply_recipe(recipe, load_base(request.result["base_model"]), should_stop=should_stop).st_model
        timed = time_quick_speed(request.result, model, should_stop=should_stop)
        history().add(timed, model_hash=request.model_hash, data_key=request.data_key, data_label=request.data_label)


_TIMER = SpeedTimer()
atexit.register(_TIMER.shutdown)


def speed_timer() -> SpeedTimer:
    """The one timer of this server process (shared by sessions: the cores are shared too)."""
    return _TIMER
