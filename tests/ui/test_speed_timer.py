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
