"""Speed of interactive points, timed in the background.

A control change shows its point as soon as size, STS and fidelity are known (about half the work of a
quick evaluation); its speed, timed against the baseline in the same call, follows from one
background thread per server process and is written into the same history row.

Order and fairness: the newest request is timed first (the point the user is looking at); a foreground
evaluation (any session's control change) pauses the timer, stopping a timing in progress within one
batch, so timings never slow down the user; a stopped timing goes back into the queue and runs when
the cores are free again. Every session's points are timed eventually, one at a time (they share the
cores and the base model).
"""
from __future__ import annotations

import atexit
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from slimlib.errors import Cancelled
from slimlib.history import History
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import Recipe
from slimlib.workflows.evaluate import speed_pending, time_quick_speed

from .resources import history

# When a point's speed is timed in the background (ui.speed_timer) rather than in the evaluation's own call.
# One user gets a point in ~2.4 s instead of ~4.9 s with it. With several sessions at once on 2 cores it
# backfires (2026-11-29, py-spy, six browser sessions): every waiting session polls with a fragment run,
# each a ScriptRunner thread the event loop starts, and those runs keep the GIL so busy that a tiny model's
# timing took minutes. So by default it is used only while one session is active on the server (the
# demo and the single-user case); with others active, speed is timed in the call, as the full evaluation
# does. SLIMLIB_BACKGROUND_SPEED=1 / 0 forces it on / off.
FORCED = {"1": True, "0": False}.get(os.environ.get("SLIMLIB_BACKGROUND_SPEED", ""))
ACTIVE_WINDOW_S = 30.0  # a session that ran a script this recently counts as active


class ActiveSessions:
    """Which sessions ran a script recently (ids from Streamlit's script context)."""

    def __init__(self, window_s: float = ACTIVE_WINDOW_S) -> None:
        self.window_s = window_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def note(self, session_id: str, now: float | None = None) -> None:
        with self._lock:
            self._seen[session_id] = time.monotonic() if now is None else now

    def count(self, now: float | None = None) -> int:
        """Sessions that ran a script within the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for old in [k for k, seen in self._seen.items() if now - seen > self.window_s]:
                del self._seen[old]
            return len(self._seen)


_SESSIONS = ActiveSessions()


def note_session(session_id: str | None) -> None:
    """Every page run calls this (ui.page.setup): a session is active while it runs scripts."""
    if session_id is not None:
        _SESSIONS.note(session_id)


def background_speed() -> bool:
    """Time new points' speed in the background? (see FORCED and the comment above it)"""
    return FORCED if FORCED is not None else _SESSIONS.count() == 1


KEEP_MODELS = 2  # queued requests that keep their compressed model in memory; older ones re-apply the recipe


@dataclass
class _Request:
    entry_id: int
    model_hash: str
    data_key: str
    data_label: str
    result: dict
    compressed_model: object | None  # None: re-apply the recipe (cheap for training-free recipes)
    store_path: object = None  # the history the entry came from (the data folder may change meanwhile)


class SpeedTimer:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._queue: dict[int, _Request] = {}  # entry id -> request, oldest first
        self._generation = 0  # bumped to stop the timing in progress
        self._foreground = 0  # evaluations running now: the timer waits for them
        self._busy_with: int | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._failed: set[int] = set()  # entries whose timing raised: not retried (it would fail again)

    def submit(self, entry, compressed_model=None) -> None:
        """Time this history entry's speed next (newest first)."""
        if not speed_pending(entry.result):
            return
        with self._lock:
            if self._closing or entry.id in self._failed or entry.id == self._busy_with:
                return
            known = self._queue.pop(entry.id, None)
            model = compressed_model if compressed_model is not None else (known.compressed_model if known else None)
            self._queue[entry.id] = _Request(entry.id, entry.model_hash, entry.data_key, entry.data_label,
                                             entry.result, model, history().path)
            for old in list(self._queue.values())[:-KEEP_MODELS]:
                old.compressed_model = None
            # A new point goes first and the one in progress is requeued. A point shown again (any rerun
            # of a page that shows it) only moves up the queue: with several sessions, letting each rerun
            # preempt would stop every timing before it finishes.
            if known is None and self._busy_with is not None:
                self._generation += 1
            self._ensure_thread()
            self._lock.notify_all()

    def waiting(self, entry_ids) -> bool:
        """True while any of these entries is queued or being timed (an in-memory check: pages poll it)."""
        with self._lock:
            return any(i == self._busy_with or i in self._queue for i in entry_ids)

    def failed(self, entry_ids) -> bool:
        with self._lock:
            return any(i in self._failed for i in entry_ids)

    @contextmanager
    def foreground(self):
        """Around an evaluation someone is waiting for: the timer stops and waits until it is done."""
        with self._lock:
            self._foreground += 1
            self._generation += 1
        try:
            yield
        finally:
            with self._lock:
                self._foreground -= 1
                self._lock.notify_all()

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Until every queued timing is done (tests, benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def busy(self) -> bool:
        with self._lock:
            return self._busy_with is not None or bool(self._queue)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop and join the thread (at exit: a daemon thread still inside torch when the interpreter
        finalizes aborts the process)."""
        with self._lock:
            self._closing = True
            self._generation += 1
            self._queue.clear()
            thread = self._thread
            self._lock.notify_all()
        if thread is not None:
            thread.join(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="slimlib-speed-timer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closing and (not self._queue or self._foreground):
                    if not self._lock.wait(timeout=60) and not self._queue:
                        self._thread = None
                        return
                if self._closing:
                    self._thread = None
                    return
                request = self._queue.pop(next(reversed(self._queue)))  # the newest
                generation, self._busy_with = self._generation, request.entry_id
            try:
                self._time(request, lambda g=generation: self._generation != g)
            except Cancelled:
                with self._lock:  # back in line behind newer requests, unless it was submitted again meanwhile
                    if not self._closing and request.entry_id not in self._queue:
                        self._queue = {request.entry_id: request, **self._queue}
            except Exception:  # noqa: BLE001 - a failed timing leaves the point pending; it never breaks a page
                with self._lock:
                    self._failed.add(request.entry_id)
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
            request.compressed_model = model  # a stopped timing resumes without applying again
        timed = time_quick_speed(request.result, model, should_stop=should_stop)
        History(request.store_path).add(timed, model_hash=request.model_hash, data_key=request.data_key,
                                        data_label=request.data_label)


_TIMER = SpeedTimer()
atexit.register(_TIMER.shutdown)


def speed_timer() -> SpeedTimer:
    """The one timer of this server process (shared by sessions: the cores are shared too)."""
    return _TIMER
