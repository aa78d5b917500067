"""Sweeps and searches end to end on a tiny model, inline: storing, resuming, re-queuing, the CLI."""
from __future__ import annotations

import json
import os
import re
import time

import pytest

from slimlib.sweep import frontier, store
from slimlib.sweep.driver import RunConfig, run_search, run_sweep
from slimlib.sweep.engines import make_engine
from slimlib.sweep.grid import GridSpec, expand
from slimlib.sweep.objectives import parse_objectives
from slimlib.sweep.samplers import make_sampler

# Settings that fit the tiny models (hidden 64, 3 layers, 4 heads).
TINY_AXES = [("drop_layers.keep", [0, 2]), ("low_rank.rank", [0, 16]), ("factorize_embeddings.rank", [0, 16]),
             ("quantize.bits", [32, 8]), ("prune_ffn.keep", [0, 0.5])]


def tiny_axes(count: int = 2) -> dict:
    return dict(TINY_AXES[:count])


def config(tmp_path, name: str, rows: list | None = None, **kw) -> RunConfig:
    return RunConfig(study_name=name, objectives=parse_objectives("size,speed,fidelity", kind=None),
                     speed_runs=1, storage_url=f"sqlite:///{tmp_path / 'studies.db'}",
                     on_result=(rows.append if rows is not None else (lambda _r: None)), **kw)


def completed_keys(study_name: str, url: str) -> list[str]:
    _meta, rows, _front = store.study_rows(study_name, url)
    return sorted(r["recipe"] and json.dumps(r["recipe"], sort_keys=True) for r in rows if r["state"] == "COMPLETE")


def test_sweep_stores_each_trial_and_a_rerun_redoes_nothing(tiny_bert_path, tmp_path):
    spec = GridSpec(base_model=str(tiny_bert_path), axes=tiny_axes())
    rows: list[dict] = []
    engine = make_engine("inline")
    summary = run_sweep(spec, engine, config(tmp_path, "s1", rows))
    assert summary.finished == 4 and summary.failed == 0 and summary.total_finished == 4
    assert {r["worker_pid"] for r in rows} == {os.getpid()}
    for row in rows:  # the eval JSON plus the trial id and worker pid
        assert {"baseline", "compressed", "ratios", "labels", "recipe", "trial", "worker_pid"} <= set(row)
        assert len(row["values"]) == 3
    assert summary.front and all(r["state"] == "COMPLETE" for r in summary.front)

    again = run_sweep(spec, engine, config(tmp_path, "s1", rows))
    engine.close()
    assert again.finished == 0 and again.total_finished == 4
    keys = completed_keys("s1", f"sqlite:///{tmp_path / 'studies.db'}")
    assert len(keys) == 4 == len(set(keys))


def test_a_trial_left_running_by_a_crash_is_requeued_and_run_once(tiny_bert_path, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "GRACE_S", 1)
    spec = GridSpec(base_model=str(tiny_bert_path), axes=tiny_axes(1))
    cfg = config(tmp_path, "crash")
    # What a crashed driver leaves behind: a queued recipe taken, beating once, then silence.
    study = store.open_study("crash", cfg.meta("sweep", spec.base_model, spec.to_dict()), ["minimize"] * 3,
                             cfg.storage_url)
    _settings, recipe = expand(spec)[1]
    study.enqueue_trial({}, user_attrs={"recipe": recipe.to_dict(), "recipe_key": recipe.key(), "settings": {}})
    orphan = study.ask()
    store.heartbeat(study, orphan)
    time.sleep(2.5)

    logs: list[str] = []
    cfg.log = logs.append
    summary = run_sweep(spec, make_engine("inline"), cfg)
    assert "1 re-queued from a crashed run" in logs[0]
    assert summary.finished == 2 and summary.total_finished == 2
    _meta, rows, _front = store.study_rows("crash", cfg.storage_url)
    assert rows[0]["state"] == "FAIL" and rows[0]["error"] is None  # the orphan, not a recipe failure
    assert len(completed_keys("crash", cfg.storage_url)) == 2


class NeverFinishes:
    """An engine whose trials stay in flight: what a stop or Ctrl-C meets mid-sweep."""

    capacity = 2
    plan = type("Plan", (), {"threads": 1})()

    def submit(self, fn, payload):
        import concurrent.futures

        return concurrent.futures.Future()

    def wait(self, futures, timeout):
        return []

    def cancel(self, futures):
        self.cancelled = len(futures)


def test_stopping_requeues_the_trials_in_flight_and_a_rerun_finishes_them(tiny_bert_path, tmp_path):
    spec = GridSpec(base_model=str(tiny_bert_path), axes=tiny_axes(1))
    waits = []
    cfg = config(tmp_path, "stop", should_stop=lambda: waits.append(1) or len(waits) > 1)
    engine = NeverFinishes()
    first = run_sweep(spec, engine, cfg)
    assert first.interrupted and first.finished == 0 and engine.cancelled == 2

    cfg.should_stop = lambda: False
    second = run_sweep(spec, make_engine("inline"), cfg)
    assert second.finished == 2 and second.total_finished == 2
    _meta, rows, _front = store.study_rows("stop", cfg.storage_url)
    assert [r["state"] for r in rows] == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert len(completed_keys("stop", cfg.storage_url)) == 2


def test_search_fills_the_study_up_to_n_trials_across_runs(tiny_bert_path, tmp_path):
    space = GridSpec(base_model=str(tiny_bert_path), axes=tiny_axes())
    rows: list[dict] = []
    cfg = config(tmp_path, "search", rows)
    engine = make_engine("inline")
    first = run_search(space, 2, engine, cfg, make_sampler("nsga2", 3, population=2, seed=1))
    assert first.finished == 2 and first.total_finished == 2
    second = run_search(space, 3, engine, cfg, make_sampler("nsga2", 3, population=2, seed=1))
    engine.close()
    assert second.finished == 1 and second.total_finished == 3 and len(rows) == 3
    _meta, stored, front = store.study_rows("search", cfg.storage_url)
    assert sum(r["state"] == "COMPLETE" for r in stored) == 3
    assert front and front <= {r["trial"] for r in stored if r["state"] == "COMPLETE"}
    for row in stored:
        assert set(row["settings"]) == set(space.axes)


def test_resuming_with_other_objectives_is_refused(tiny_bert_path, tmp_path):
    from slimlib.errors import SlimlibError

    space = GridSpec(base_model=str(tiny_bert_path), axes=tiny_axes(1))
    cfg = config(tmp_path, "mixed")
    store.open_study("mixed", cfg.meta("search", space.base_model, space.axes), ["minimize"] * 3, cfg.storage_url)
    cfg.objectives = parse_objectives("size", kind=None)
    with pytest.raises(SlimlibError, match=r"--study mixed: exists with a different objectives"):
        run_search(space, 1, make_engine("inline"), cfg, make_sampler("random", 1))


def test_cli_sweep_prints_one_json_line_per_trial(tiny_bert_path, tmp_path, capsys):
    from slimlib.cli import main

    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"format": "slimlib.grid/v1", "base_model": str(tiny_bert_path),
                                "grid": tiny_axes(1)}))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["sweep", str(grid), "--engine", "inline", "--json", "--storage", url, "--study", "cli"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and {line["trial"] for line in lines} == {0, 1}
    assert all(line["worker_pid"] == os.getpid() and line["study"] == "cli" for line in lines)

    assert main(["sweep", str(grid), "--engine", "inline", "--objectives", "sts:max", "--storage", url]) == 2
    assert "sts needs labelled pairs" in capsys.readouterr().err
    assert main(["sweep", str(grid), "--engine", "dask", "--storage", url]) == 2
    assert "--engine dask needs --address" in capsys.readouterr().err


def test_cli_sweep_on_a_retrieval_folder_optimises_ndcg_by_default(tiny_bert_path, tmp_path, capsys):
    from beir_data import write_beir

    from slimlib.cli import main

    folder = write_beir(tmp_path / "tiny-beir")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"format": "slimlib.grid/v1", "base_model": str(tiny_bert_path),
                                "grid": tiny_axes(1)}))
    url = f"sqlite:///{tmp_path / 'beir.db'}"
    assert main(["sweep", str(grid), "--engine", "inline", "--data", str(folder), "--storage", url,
                 "--study", "beir"]) == 0
    out = capsys.readouterr().out
    trial_lines = [line for line in out.splitlines() if line.startswith("trial")]
    assert len(trial_lines) == 2 and all(re.search(r"ndcg@10 \d\.\d{4}", line) for line in trial_lines)
    assert " sts " not in out
    assert "[size:min, speed:max, ndcg:max]" in out  # the front's columns are named
    meta, rows, front = store.study_rows("beir", url)
    assert meta["objectives"] == ["size:min", "speed:max", "ndcg:max"]
    done = [r for r in rows if r["state"] == "COMPLETE"]
    assert len(done) == 2 and all(0.0 <= r["compressed"]["ndcg_at_10"] <= 1.0 for r in done)
    assert meta["data"] == str(folder)
    pts = frontier.points(rows, front)
    assert frontier.accuracy_axis(pts) == "ndcg" and all(p["ndcg"] is not None and p["sts"] is None for p in pts)

    assert main(["sweep", str(grid), "--engine", "inline", "--data", str(folder), "--objectives", "sts:max",
                 "--storage", url]) == 2
    err = capsys.readouterr().err
    assert "--objectives: sts needs labelled pairs" in err and "use ndcg:max" in err
