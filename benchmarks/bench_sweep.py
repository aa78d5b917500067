"""Sweeps that scale: trials per minute with 1 vs 2 local Dask workers, and a Pareto search on MiniLM.

1. The same grid of quick evaluations on all-MiniLM-L6-v2, run by a LocalCluster of 1 and then 2
   worker processes (1 torch thread each). Workers are warmed up (imports, base model) before the
   clock starts, so the rate is the steady state a long sweep sees.
2. A 50-trial NSGA-II search (quick evaluations, objectives size:min, speed:max, fidelity:max) over
   the default space of the ops this build has; its front is written to an HTML plot.
Run: .venv/bin/python benchmarks/bench_sweep.py [--trials 50] [--skip-search]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, describe_machine

BASE = "all-MiniLM-L6-v2"
OUT_DIR = ROOT / "benchmarks" / "out"


def throughput_grid(ops: set[str]) -> dict:
    """Eight cheap, distinct recipes from whatever training-free ops exist."""
    options = [("drop_layers.keep", [0, 5, 4, 3]), ("low_rank.rank", [0, 192]), ("factorize_embeddings.rank", [0, 128]),
               ("quantize.bits", [32, 8]), ("prune_ffn.keep", [0, 0.5]), ("trim_vocab.max_tokens", [0, 8000])]
    axes, count = {}, 1
    for key, values in options:
        if key.split(".")[0] in ops and count < 8:
            axes[key] = values[: max(2, 8 // count)]
            count *= len(axes[key])
    return axes


def timed_sweep(workers: int, axes: dict, store_url: str) -> dict:
    from slimlib.sweep.driver import RunConfig, run_sweep
    from slimlib.sweep.engines import make_engine
    from slimlib.sweep.grid import GridSpec
    from slimlib.sweep.objectives import parse_objectives
    from slimlib.sweep.worker import warm_up

    engine = make_engine("local", workers=workers, threads=1)
    try:
        engine.client.run(warm_up, BASE)  # imports + base model in every worker, off the clock
        pids = set()
        config = RunConfig(study_name=f"throughput-{workers}w", objectives=parse_objectives("size,speed,fidelity", False),
                           storage_url=store_url, on_result=lambda row: pids.add(row["worker_pid"]))
        start = time.perf_counter()
        summary = run_sweep(GridSpec(base_model=BASE, axes=axes), engine, config)
        elapsed = time.perf_counter() - start
    finally:
        engine.close()
    return {"workers": workers, "trials": summary.finished, "failed": summary.failed, "seconds": round(elapsed, 1),
            "trials_per_min": round(summary.finished / elapsed * 60, 2), "worker_pids": len(pids)}


def search(n_trials: int, store_url: str) -> dict:
    from slimlib.sweep import frontier, store
    from slimlib.sweep.driver import RunConfig, model_shape_of, run_search
    from slimlib.sweep.engines import make_engine
    from slimlib.sweep.objectives import parse_objectives
    from slimlib.sweep.samplers import make_sampler
    from slimlib.sweep.space import default_space

    space = default_space(BASE, model_shape_of(BASE))
    print("search space: " + "; ".join(f"{k} in {v}" for k, v in space.axes.items()), flush=True)
    engine = make_engine("local", workers=2, threads=1)
    name = time.strftime("bench-search-%Y%m%d-%H%M%S")
    config = RunConfig(study_name=name, objectives=parse_objectives("size,speed,fidelity", False), storage_url=store_url,
                       on_result=lambda row: print(f"  trial {row['trial']} landed (pid {row['worker_pid']})"
                                                   + (f": {row['error']}" if row.get("error") else ""), flush=True))
    start = time.perf_counter()
    try:
        summary = run_search(space, n_trials, engine, config, make_sampler("nsga2", n_trials, seed=0))
    finally:
        engine.close()
    elapsed = time.perf_counter() - start
    _meta, rows, front = store.study_rows(name, store_url)
    pts = frontier.points(rows, front)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    html = OUT_DIR / "sweep_front.html"
    fig = frontier.figure(pts, "size_mb", "fidelity", f"{n_trials}-trial NSGA-II search on {BASE} (quick)")
    fig.write_html(str(html), include_plotlyjs="cdn")
    return {"summary": summary, "points": pts, "seconds": elapsed, "html": html}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv if argv is not None else [])
    from slimlib.ops.registry import op_names

    print(f"\n## Sweeps — {describe_machine()}\n")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="slimlib-bench-sweep-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'studies.db'}"
        if not args.skip_throughput:
            axes = throughput_grid(set(op_names()))
            print("throughput grid: " + "; ".join(f"{k} in {v}" for k, v in axes.items()), flush=True)
            for workers in (1, 2):
                rows.append(timed_sweep(workers, axes, url))
            print("\n| workers x threads | trials | seconds | trials/min | ratio vs 1 worker |\n|---|---|---|---|---|")
            for row in rows:
                print(f"| {row['workers']} x 1 | {row['trials']} | {row['seconds']} | {row['trials_per_min']} | "
                      f"{row['trials_per_min'] / rows[0]['trials_per_min']:.2f}x |")
        if not args.skip_search:
            result = search(args.trials, url)
            summary, pts = result["summary"], result["points"]
            front = sorted((p for p in pts if p["on_front"]), key=lambda p: p["size_mb"])
            print(f"\n{summary.finished} trials ({summary.failed} failed) in {result['seconds']:.0f} s; "
                  f"front of {len(front)} written to {result['html']}\n")
            print("| trial | size MB | speed vs base | fidelity | settings |\n|---|---|---|---|---|")
            for p in front:
                print(f"| {p['trial']} | {p['size_mb']:.1f} | {p['speedup']:.2f}x | {p['fidelity']:.4f} | {p['settings']} |")
            rows.append({"search_trials": summary.finished, "front": front})
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
