"""The study store: Optuna's RDB storage, so the Pareto front is `study.best_trials`.

SQLite in slimlib's data dir by default; any SQLAlchemy URL works (e.g. postgresql://...), and
only the driver talks to it: workers get JSON and send results back. Each trial keeps its recipe
and its full eval result as user attributes, written the moment the trial lands.

Resuming: the driver records a heartbeat for every trial in flight. A trial left RUNNING by a
crashed driver stops beating; on the next run `fail_stale_trials` marks it FAIL and Optuna's
RetryHeartbeatStaleTrialCallback re-queues a WAITING copy with the same recipe, which `ask()` hands out
first. A trial whose recipe itself failed is finished (FAIL with an "error" attribute), not retried.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

from ..errors import SlimlibError
from ..paths import data_dir
from ..optional import require

HEARTBEAT_S = 5
GRACE_S = 20
MAX_RETRIES = 3
DB_FILE = "studies.db"
META_KEY = "slimlib"


def default_url() -> str:
    return f"sqlite:///{data_dir() / DB_FILE}"


def _optuna():
    optuna = require("optuna")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # Heartbeats are meant for Study.optimize; with ask/tell this driver records them itself.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed", category=UserWarning)
    return optuna


def open_storage(url: str | None = None):
    """One storage (one SQLAlchemy engine) per URL per process."""
    return _open_storage(url or default_url(), GRACE_S)


@functools.lru_cache(maxsize=8)
def _open_storage(url: str, grace_period: int):
    optuna = _optuna()
    try:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=HEARTBEAT_S, grace_period=grace_period,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES),
        )
    except Exception as exc:  # a bad URL, a missing driver (psycopg), an unreachable server
        raise SlimlibError(f"--storage {url}: cannot open the study store ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:160]})") from None


def open_study(name: str, meta: dict, directions: list[str], url: str | None = None, sampler=None):
    """Create the study, or load it to resume after checking it was made for the same experiment."""
    optuna = _optuna()
    storage = open_storage(url)
    study = optuna.create_study(study_name=name, storage=storage, directions=directions, sampler=sampler,
                                load_if_exists=True)
    stored = study.user_attrs.get(META_KEY)
    if stored is None:
        study.set_user_attr(META_KEY, meta)
        study.set_metric_names([o.split(":")[0] for o in meta["objectives"]])
    else:
        for key in ("kind", "objectives", "base_model", "data", "quick", "space"):
            if stored.get(key) != meta.get(key):
                raise SlimlibError(f"--study {name}: exists with a different {key} ({stored.get(key)!r}, now "
                                   f"{meta.get(key)!r}); resume it with the same settings or pick a new --study")
    return study


def requeue_stale(study) -> int:
    """Fail trials whose driver died (stale heartbeat) and re-queue their recipes; returns how many."""
    optuna = _optuna()
    before = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
    optuna.storages.fail_stale_trials(study)
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))) - before


def requeue(study, frozen_trial) -> None:
    """Queue a WAITING copy of a trial that did not finish (interrupted), with the same recipe."""
    _optuna().storages.RetryHeartbeatStaleTrialCallback(max_retry=None)(study, frozen_trial)


def heartbeat(study, trial) -> None:
    study._storage.record_heartbeat(trial._trial_id)  # the public Trial has no heartbeat call


def is_finished(frozen) -> bool:
    """Done for good: measured, or its recipe failed (interrupted and stale trials are re-run)."""
    state = frozen.state.name
    return state == "COMPLETE" or (state == "FAIL" and "error" in frozen.user_attrs)


def finished_trials(study) -> list:
    return [t for t in study.get_trials(deepcopy=False) if is_finished(t)]


def waiting_count(study) -> int:
    optuna = _optuna()
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


def trial_row(frozen) -> dict[str, Any]:
    """A flat summary of one trial for tables and the app."""
    attrs = frozen.user_attrs
    result = attrs.get("result") or {}
    return {
        "trial": frozen.number,
        "state": frozen.state.name,
        "values": list(frozen.values) if frozen.values else None,
        "recipe": attrs.get("recipe"),
        "settings": attrs.get("settings"),
        "error": attrs.get("error"),
        "worker_pid": attrs.get("worker_pid"),
        "seconds": attrs.get("seconds"),
        "ratios": result.get("ratios"),
        "compressed": result.get("compressed"),
        "threads": (result.get("measurement") or {}).get("threads"),  # torch threads speed was measured at
        "quick": (result.get("measurement") or {}).get("quick"),
    }


def study_rows(name: str, url: str | None = None) -> tuple[dict, list[dict], set[int]]:
    """(meta, every trial's row, numbers of the Pareto-front trials) of a stored study."""
    optuna = _optuna()
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:
        raise SlimlibError(f"--study {name}: no such study in {url or default_url()}") from None
    trials = study.get_trials(deepcopy=False)
    front = {t.number for t in study.best_trials} if any(t.state.name == "COMPLETE" for t in trials) else set()
    return study.user_attrs.get(META_KEY, {}), [trial_row(t) for t in trials], front


def list_studies(url: str | None = None) -> list[dict]:
    optuna = _optuna()
    out = []
    for summary in optuna.get_all_study_summaries(open_storage(url), include_best_trial=False):
        out.append({"name": summary.study_name, "trials": summary.n_trials,
                    "kind": summary.user_attrs.get(META_KEY, {}).get("kind"),
                    "started": summary.datetime_start.isoformat(timespec="seconds") if summary.datetime_start else None})
    return out
