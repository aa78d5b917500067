"""Command-line options and output shared by `sweep` and `search`."""
from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading

from .engines import ENGINES
from .objectives import METRICS

ENGINE_HELP = """engines:
  inline  trials run one by one in this process
  local   (default) a Dask LocalCluster on 127.0.0.1, worker processes, no dashboard;
          nothing to install or start
  dask    an existing Dask cluster: --address tcp://HOST:PORT of its scheduler
          (start one with `dask scheduler --host HOST` and `dask worker tcp://HOST:PORT
          --nthreads 1 --preload slimlib.sweep.worker`; both serve HTTP on --dashboard-address
          even with --no-dashboard, so set it to a private address; the base model must be
          reachable at the same path by every worker)
Each worker loads the base model once and compresses a copy per trial; workers x
--threads-per-worker never exceed a machine's cores (larger values are clamped, with a message).

study store: Optuna's RDB storage, SQLite in slimlib's data dir unless --storage gives a
SQLAlchemy URL (e.g. postgresql://user@host/db). Each trial is stored the moment it lands;
running again with the same --study resumes: finished trials are kept, trials a crash left
RUNNING are re-queued (after a {grace}s heartbeat grace period).

objectives: """ + ", ".join(f"{name} ({info[2]}, default {info[1]})" for name, info in METRICS.items())


def add_run_arguments(p) -> None:
    p.add_argument("--engine", choices=ENGINES, default="local", help="where trials run (default: local)")
    p.add_argument("--address", help="tcp://HOST:PORT of a Dask scheduler (with --engine dask)")
    p.add_argument("--workers", type=int, help="worker processes of the local engine (default: cores / threads)")
    p.add_argument("--threads-per-worker", type=int, help="torch threads per trial (default: 1)")
    p.add_argument("--study", help="study name; an existing study is resumed")
    p.add_argument("--storage", help="SQLAlchemy URL of the study store (default: sqlite in the data dir)")
    p.add_argument("--data", help="labelled pair file for STS (STS Benchmark TSV or CSV/TSV with a header), or a "
                                  "retrieval folder in the BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv) "
                                  "for nDCG@10")
    p.add_argument("--objectives", help="METRIC:min|max,... (default: size:min,speed:max,sts:max with a pair file, "
                                        "size:min,speed:max,ndcg:max with a retrieval folder, else "
                                        "size:min,speed:max,fidelity:max; sts needs a pair file, ndcg a retrieval folder)")
    p.add_argument("--full", action="store_true", help="full measurements (default: quick, what the app shows live)")
    p.add_argument("--json", action="store_true", help="print one JSON line per finished trial, as it lands")


@contextlib.contextmanager
def stop_on_sigint():
    """Ctrl-C (or the app's Stop, which sends SIGINT) asks the driver to stop at its next check
    (every few seconds), which re-queues the trials in flight; a second Ctrl-C aborts at once.
    A flag rather than KeyboardInterrupt, because a blocking Dask wait does not always let one through.
    Enter it after the engine has started (Dask may install its own handler); the previous handler
    comes back on exit. Yields the `should_stop` callable for the driver."""
    stop = threading.Event()

    def handle(_signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log("stopping after the trials in flight are re-queued (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield stop.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def log(message: str) -> None:
    print(f"slimlib: {message}", file=sys.stderr, flush=True)


def json_printer(row: dict) -> None:
    sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
    sys.stdout.flush()


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def text_printer(row: dict) -> None:
    """One readable line per landed trial."""
    settings = ", ".join(f"{k}={v}" for k, v in (row.get("settings") or {}).items()) or "(recipe)"
    head = f"trial {row['trial']:>3}  pid {row.get('worker_pid') or '-':>7}  "
    if row.get("error"):
        print(f"{head}FAILED {settings}: {row['error']}", flush=True)
        return
    ratios, compressed = row.get("ratios") or {}, row.get("compressed") or {}
    if compressed.get("ndcg_at_10") is not None:  # a retrieval folder: nDCG@10 in place of STS
        accuracy = f"ndcg@10 {_fmt(compressed.get('ndcg_at_10'), '.4f')}"
    else:
        accuracy = f"sts {_fmt(compressed.get('sts_spearman'), '.2f')}"
    print(f"{head}size {_fmt(ratios.get('size'), '.3f')}x  speed {_fmt(ratios.get('speedup'), '.2f')}x  "
          f"fidelity {_fmt(compressed.get('fidelity_cosine'), '.4f')}  {accuracy}  {settings}", flush=True)


def print_summary(summary, as_json: bool, objectives=None) -> None:
    """The study's Pareto front, one line a trial; `objectives` (the run's) name the values' columns."""
    if as_json:
        return  # the per-trial lines are the output; the front is one `study` query away
    names = f" [{', '.join(o.label for o in objectives)}]" if objectives else ""
    print(f"\nstudy {summary.study_name}: {summary.finished} trial(s) ran now ({summary.failed} failed), "
          f"{summary.total_finished} finished in total; Pareto front ({len(summary.front)}){names}:")
    for row in sorted(summary.front, key=lambda r: r["values"] or []):
        settings = ", ".join(f"{k}={v}" for k, v in (row.get("settings") or {}).items()) or "(recipe)"
        values = ", ".join(f"{v:.4g}" for v in row["values"] or [])
        print(f"  trial {row['trial']:>3}  [{values}]  {settings}")
