"""What a worker process runs for one trial.

Payloads are plain JSON (a recipe dict and evaluation options): models never travel. The base
model is loaded once per worker process (slimlib.model.base.load_base caches it) and every trial
compresses a deep copy (apply_recipe does), so a worker can run trial after trial. Importing this
module pulls in the measurement stack, so `dask worker --preload slimlib.sweep.worker` pays the
import before the first trial arrives.
"""
from __future__ import annotations

import os
import socket
import time
import traceback

from ..errors import SlimlibError


def warm_up(base_model: str) -> int:
    """Load the base model into this process's cache (optional; the first trial would do it)."""
    from ..model.base import load_base

    load_base(base_model)
    return os.getpid()


def run_trial(payload: dict) -> dict:
    """Evaluate one recipe; errors come back as data so one bad trial never stops a sweep."""
    from ..workflows.evaluate import EvalOptions, evaluate
    from ..ops.recipe import Recipe

    started = time.perf_counter()
    out: dict = {"trial": payload.get("trial"), "worker_pid": os.getpid(), "worker_host": socket.gethostname()}
    try:
        recipe = Recipe.from_dict(payload["recipe"], "trial recipe")
        out["result"] = evaluate(recipe, EvalOptions(**payload.get("options", {})))
    except SlimlibError as exc:
        out["error"] = str(exc)
    except Exception as exc:  # a bug in an op: keep the sweep going, report where it broke
        where = traceback.extract_tb(exc.__traceback__)[-1]
        out["error"] = f"{type(exc).__name__}: {exc} (at {os.path.basename(where.filename)}:{where.lineno})"
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


try:  # under `--preload`, import the heavy stack now rather than inside the first trial
    import slimlib.workflows.evaluate  # noqa: F401
except ImportError:  # pragma: no cover - a broken install shows up in the first trial instead
    pass
