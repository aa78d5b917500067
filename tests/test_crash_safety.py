"""kill -9 during history writes: the database stays intact and keeps every committed row."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

from slimlib.history import History

from helpers import ROOT

WRITER = r"""
import sys, time
from slimlib.history import History
history = History(sys.argv[1])
i = 0
while True:
    result = {"base_model": "m", "recipe": {"format": "slimlib.recipe/v1", "base_model": "m", "steps": [], "name": f"r{i}"},
              "recipe_key": f"key{i}", "measurement": {"quick": True}, "compressed": {"blob": "x" * 20000}}
    history.add(result, model_hash="h", data_key="d", data_label="d")
    print(i, flush=True)
    i += 1
"""


def test_kill_minus_9_during_writes_leaves_a_sound_database(tmp_path):
    db = tmp_path / "history.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    committed = -1
    deadline = time.time() + 120
    while committed < 40 and time.time() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        committed = int(line)
    writer.send_signal(signal.SIGKILL)  # mid-stream: the writer is inside its next transaction
    writer.wait(timeout=30)
    assert committed >= 40, "the writer did not get going"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    entries = History(db).entries()
    assert len(entries) >= committed + 1  # every write that reported success is there
    # The store keeps working after the crash.
    History(db).add({"base_model": "m", "recipe": {"format": "slimlib.recipe/v1", "base_model": "m", "steps": []}, "recipe_key": "after",
                     "measurement": {"quick": True}}, model_hash="h", data_key="d", data_label="d")
    assert len(History(db).entries()) == len(entries) + 1
