"""The background speed timer: newest point first, paused by foreground evaluations, nothing dropped."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from slimlib.errors import Cancelled
from slimlib.workflows.evaluate import PENDING
from ui import speed_timer as module


def entry(entry_id: int):
    return SimpleNamespace(id=entry_id, model_hash="m", data_key="d", data_label="l",
                           result={"labels": {"sentences_per_s": PENDING}})


@pytest.fixture()
def timed(monkeypatch):
    """Replace the timing by a stub that records the order and can be held mid-timing."""
    order: list[int] = []
    gate = threading.Event()
    gate.set()

    def fake_time(request, should_stop):
        while not gate.is_set():
            if should_stop():
                raise Cancelled("stopped")
            time.sleep(0.01)
        order.append(request.entry_id)

    monkeypatch.setattr(module.SpeedTimer, "_time", staticmethod(fake_time))
    timer = module.SpeedTimer()
    yield timer, order, gate
    timer.shutdown()


def wait_idle(timer, seconds=10.0):
    deadline = time.time() + seconds
    while timer.busy() and time.time() < deadline:
        time.sleep(0.01)
    assert not timer.busy()


def test_waits_for_the_foreground_then_times_the_newest_first(timed):
    timer, order, _ = timed
    with timer.foreground():
        for i in (1, 2, 3):
            timer.submit(entry(i))
        time.sleep(0.1)
        assert order == []  # nothing runs beside an evaluation someone waits for
    wait_idle(timer)
    assert order == [3, 2, 1]


def test_a_stopped_timing_is_requeued_not_dropped(timed):
    timer, order, gate = timed
    gate.clear()  # the first timing hangs until stopped
    timer.submit(entry(1))
    time.sleep(0.1)
    with timer.foreground():  # a control change: stops entry 1 mid-timing
        timer.submit(entry(2))
        time.sleep(0.2)  # the stub notices the stop within 10 ms
        assert order == [] and timer.busy()
        gate.set()
    wait_idle(timer)
    assert order == [2, 1]


def test_entries_already_timed_are_not_queued(timed):
    timer, order, _ = timed
    done = SimpleNamespace(id=9, model_hash="m", data_key="d", data_label="l",
                           result={"labels": {"sentences_per_s": "measured"}})
    timer.submit(done)
    wait_idle(timer)
    assert order == []


def test_a_point_shown_again_moves_up_without_stopping_the_timing_in_progress(timed):
    """Every rerun of a page resubmits the points it shows; with several sessions open, letting those
    resubmissions preempt stopped every timing before it finished (six browser sessions never got a speed)."""
    timer, order, gate = timed
    gate.clear()
    timer.submit(entry(1))
    time.sleep(0.1)
    assert timer.waiting([1])
    timer.submit(entry(2))  # new: preempts 1, which goes back into the queue
    time.sleep(0.1)
    timer.submit(entry(1))  # shown again: queued behind nothing new, does not stop 2
    time.sleep(0.1)
    assert timer.waiting([1]) and timer.waiting([2]) and not timer.waiting([3])
    gate.set()
    wait_idle(timer)
    assert order == [2, 1]
    assert not timer.waiting([1, 2])


def test_a_failed_timing_is_reported_and_not_retried(monkeypatch):
    calls: list[int] = []

    def failing(request, should_stop):
        calls.append(request.entry_id)
        raise RuntimeError("no kernel")

    monkeypatch.setattr(module.SpeedTimer, "_time", staticmethod(failing))
    timer = module.SpeedTimer()
    try:
        timer.submit(entry(5))
        wait_idle(timer)
        assert timer.failed([5]) and not timer.failed([6])
        timer.submit(entry(5))
        wait_idle(timer)
        assert calls == [5]
    finally:
        timer.shutdown()


def test_sessions_count_as_active_for_a_window_after_their_last_run():
    sessions = module.ActiveSessions(window_s=30)
    sessions.note("a", now=0.0)
    assert sessions.count(now=1.0) == 1  # alone: new points' speed is timed in the background
    sessions.note("b", now=5.0)
    assert sessions.count(now=6.0) == 2  # two at once: timed in the evaluation's own call
    sessions.note("a", now=20.0)
    assert sessions.count(now=36.0) == 1  # b has not run a script for 31 s
    assert sessions.count(now=51.0) == 0


def test_the_environment_forces_background_timing_on_or_off(monkeypatch):
    monkeypatch.setattr(module, "_SESSIONS", module.ActiveSessions())
    monkeypatch.setattr(module, "FORCED", None)
    module.note_session("a")
    assert module.background_speed()
    module.note_session("b")
    assert not module.background_speed()
    monkeypatch.setattr(module, "FORCED", True)
    assert module.background_speed()
    monkeypatch.setattr(module, "FORCED", False)
    module.note_session(None)
    assert not module.background_speed()


def test_the_explore_page_queues_its_pending_point_again_after_a_server_restart(monkeypatch, tmp_path, tiny_bert_path):
    """The page that shows a point owns queueing its speed: a point stored pending by a server that
    stopped before timing it is queued, and timed, when the next server shows it."""
    from streamlit.testing.v1 import AppTest

    from app_helpers import APP
    from slimlib.history import History
    from slimlib.workflows.evaluate import speed_pending
    from ui.config import default_config

    monkeypatch.setattr(module, "FORCED", True)  # read from SLIMLIB_BACKGROUND_SPEED at import
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path))
    first_server = module.SpeedTimer()
    monkeypatch.setattr(module, "_TIMER", first_server)
    with first_server.foreground():  # it never gets to time anything before it "stops"
        at = AppTest.from_file(str(APP), default_timeout=600)
        at.session_state["config"] = default_config(model=str(tiny_bert_path))
        at.run()
        at.sidebar.slider(key="w.prune_ffn.keep").set_value(0.5).run()
        assert not at.exception, at.exception
        pending = [e for e in History().entries() if e.result["recipe"]["steps"] and speed_pending(e.result)]
        assert len(pending) == 1, [(e.result["recipe"]["steps"], e.result["labels"]) for e in History().entries()]
        assert first_server.waiting([pending[0].id])
        first_server.shutdown()

    next_server = module.SpeedTimer()
    monkeypatch.setattr(module, "_TIMER", next_server)
    try:
        at.run()
        assert not at.exception, at.exception
        assert next_server.waiting([pending[0].id]) or not speed_pending(History().get(pending[0].id).result)
        assert next_server.wait_idle(timeout=300)
        assert not speed_pending(History().get(pending[0].id).result)
    finally:
        next_server.shutdown()
