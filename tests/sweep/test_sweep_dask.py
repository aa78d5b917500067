"""A real Dask cluster on 127.0.0.1: a scheduler and two worker processes started as subprocesses.

Trials must run in the workers' processes (their pids come back with the results), and a worker
SIGKILLed while it runs a trial must not lose that trial: Dask reruns it on the survivor, and
every result lands in the study exactly once.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from slimlib.sweep import store
from slimlib.sweep.driver import RunConfig, run_sweep
from slimlib.sweep.engines import make_engine
from slimlib.sweep.grid import GridSpec
from slimlib.sweep.objectives import parse_objectives

from test_sweep_run import tiny_axes  # tests/ is on sys.path (pytest's prepend import mode)

ROOT = Path(__file__).resolve().parents[2]
# Workers preload torch + transformers: seconds on an idle machine, minutes on an oversubscribed one.
STARTUP_S = 600
THIRD_SETTING = {"drop_layers.keep": 1, "low_rank.rank": 8, "factorize_embeddings.rank": 8, "quantize.bits": 4,
                 "prune_ffn.keep": 0.25}


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Where the environment disables bytecode writing, every worker would recompile torch and
    # transformers from source (minutes on a busy machine); a private bytecode cache keeps the
    # venv untouched and makes the second run's workers start in seconds.
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "slimlib-test-pycache")
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))


@pytest.fixture
def dask_cluster(tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    # --no-dashboard drops the Bokeh pages, but the scheduler's HTTP routes (health, metrics) still
    # listen on --dashboard-address (default :8787, every interface): keep them on loopback too.
    local_http = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    procs = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", *local_http,
                     "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log")]
    try:
        deadline = time.time() + 60
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            assert procs[0].poll() is None and time.time() < deadline, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        # --no-nanny: the worker is the subprocess itself, so its pid is the one trials report.
        workers = [_spawn(["distributed.cli.dask_worker", address, "--nthreads", "1", *local_http, "--no-nanny",
                           "--host", "127.0.0.1", "--name", f"w{i}", "--preload", "slimlib.sweep.worker"],
                          tmp_path / f"worker{i}.log") for i in range(2)]
        procs += workers
        yield address, workers
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def test_trials_run_in_the_workers_and_survive_a_killed_worker(dask_cluster, tiny_bert_path, tmp_path):
    address, workers = dask_cluster
    axes = tiny_axes(2)
    first = next(iter(axes))
    axes[first] = axes[first] + [THIRD_SETTING[first]]  # 6 recipes: enough for a worker to die mid-sweep
    spec = GridSpec(base_model=str(tiny_bert_path), axes=axes)
    engine = make_engine("dask", address, threads=1, worker_timeout=STARTUP_S)
    engine.client.wait_for_workers(2, timeout=STARTUP_S)
    pids = engine.worker_pids()  # address -> pid
    assert sorted(pids.values()) == sorted(w.pid for w in workers)
    victim = workers[0]
    victim_address = next(a for a, pid in pids.items() if pid == victim.pid)

    rows: list[dict] = []
    victim_finished_one = threading.Event()
    killed: dict = {}

    def on_result(row: dict) -> None:
        rows.append(row)
        if row["worker_pid"] == victim.pid:
            victim_finished_one.set()

    def kill_victim_mid_trial() -> None:
        """After the victim finished a trial, wait until it runs another, then SIGKILL it."""
        victim_finished_one.wait(STARTUP_S)
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            running = engine.client.processing(workers=[victim_address]).get(victim_address) or []
            if running:
                killed["trial"] = int(str(running[0]).split("-")[2])
                killed["landed_before"] = len(rows)
                os.kill(victim.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_victim_mid_trial, daemon=True)
    killer.start()
    config = RunConfig(study_name="dask", objectives=parse_objectives("size,speed,fidelity", kind=None),
                       speed_runs=1, storage_url=f"sqlite:///{tmp_path / 'studies.db'}", on_result=on_result)
    try:
        summary = run_sweep(spec, engine, config)
    finally:
        engine.close()
    killer.join(timeout=5)

    recipes = 1
    for values in spec.axes.values():
        recipes *= len(values)
    assert killed, "the victim never ran a second trial"
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert summary.finished == recipes and summary.failed == 0 and summary.total_finished == recipes
    assert sorted(r["trial"] for r in rows) == list(range(recipes))  # none lost, none twice
    assert {r["worker_pid"] for r in rows} <= {w.pid for w in workers}
    assert os.getpid() not in {r["worker_pid"] for r in rows}
    rerun = next(r for r in rows if r["trial"] == killed["trial"])
    assert rerun["worker_pid"] == workers[1].pid  # the killed trial was rerun on the survivor
    _meta, stored, _front = store.study_rows("dask", config.storage_url)
    assert [r["state"] for r in stored] == ["COMPLETE"] * recipes
