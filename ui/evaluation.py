"""Evaluating configs from the app: the data choice, the result caches and the history.

A result is looked up in the SQLite history (keyed by model, recipe, data and quick; survives
restarts) and only then computed with `slimlib.workflows.evaluate.evaluate`. Every computed result is written
to the history, which is also what the trade-off chart draws.
"""
from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from slimlib.workflows.evaluate import QUICK_DEFINITION, EvalOptions, evaluate
from slimlib.history import Entry
from slimlib.data.pairs import QUICK_PAIRS, read_pairs  # noqa: F401  (QUICK_PAIRS: one definition, in slimlib)
from slimlib.paths import PROJECT_DIR, data_dir
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import Recipe

from .resources import base_model, history
from .speed_timer import speed_timer

STSB_DEV = PROJECT_DIR.parent / "shared" / "data" / "stsb" / "sts-dev.csv"
# Quick (interactive) evaluations score STS on a fixed stratified sample of QUICK_PAIRS pairs and time
# speed against the baseline in the same call (slimlib.workflows.evaluate, the CLI's `eval --quick`), so a
# control change shows its point within seconds; the full evaluation uses every pair.


@dataclass(frozen=True)
class DataChoice:
    """The labelled pairs an evaluation scores STS on (None: fidelity only)."""

    path: str | None
    label: str
    digest: str = ""

    def key(self, quick: bool) -> str:
        """The history key: the file's content, and for quick results the quick definition they follow."""
        quick_part = f"quick{QUICK_DEFINITION}-{QUICK_PAIRS}"
        if not self.path:
            return f"none:quick{QUICK_DEFINITION}" if quick else "none"
        return f"{self.digest}:{quick_part if quick else 'all'}"

    def options(self, quick: bool) -> EvalOptions:
        return EvalOptions(data=self.path, quick=quick)


NO_DATA = DataChoice(None, "none (fidelity only)")


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


@st.cache_data(max_entries=32, show_spinner=False)
def _validated(path: str, mtime: float, name: str | None = None) -> tuple[str, int]:
    """Read once to fail early with the file's own error; returns (digest, pairs)."""
    return file_digest(path), len(read_pairs(path, name))


def data_choice(path: str, label: str, name: str | None = None) -> DataChoice:
    """A checked pair file (raises DataFileError with a one-line message).

    `name` is what messages call the file (an upload's own name rather than the server's copy)."""
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        read_pairs(resolved, name)  # raises the standard "pair file not found" message
    digest, count = _validated(str(resolved.resolve()), resolved.stat().st_mtime, name)
    return DataChoice(str(resolved.resolve()), f"{label} ({count} pairs)", digest)


def save_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded pair file in the data directory, named by content (re-uploads are free)."""
    folder = data_dir() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(name).suffix.lower() if Path(name).suffix.lower() in (".csv", ".tsv", ".txt") else ".csv"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    if not path.exists():
        path.write_bytes(data)
    return path


def lookup(recipe: Recipe, data: DataChoice, quick: bool) -> Entry | None:
    base = base_model(recipe.base_model)
    return history().find(base.content_hash, recipe.key(), data.key(quick), quick)


def evaluate_and_store(recipe: Recipe, data: DataChoice, quick: bool, progress=None, should_stop=None,
                       use_streamlit_cache: bool = True, live: bool = False) -> Entry:
    """The stored entry for (model, recipe, data, quick), computing it if needed.

    Background jobs pass use_streamlit_cache=False: the st.cache_resource base loader needs a script run context.
    `live` (a control change on Explore, quick only): the point is stored without its speed, which the
    process's speed timer measures next in the background (ui/speed_timer.py).
    """
    live = live and quick
    base = base_model(recipe.base_model) if use_streamlit_cache else _plain_base(recipe.base_model)
    store = history()
    found = store.find(base.content_hash, recipe.key(), data.key(quick), quick)
    if found is not None:
        return found  # if its speed is still pending, the page showing it queues it (views.watch_pending_speed)
    # The history is the cache (keyed by model, recipe, data, quick). No st.cache_data here: its element
    # replay breaks when two sessions run the same cached call while drawing a progress bar.
    options = data.options(quick)
    options.defer_speed = live
    # Someone is waiting for this one: background speed timings pause (and resume after it).
    with speed_timer().foreground() if live else nullcontext():
        compressed = apply_recipe(recipe, base, progress=progress, should_stop=should_stop)
        result = evaluate(recipe, options, progress=progress, should_stop=should_stop, compressed=compressed)
    entry = store.add(result, model_hash=base.content_hash, data_key=data.key(quick), data_label=data.label)
    if live:
        speed_timer().submit(entry, compressed.st_model)
    return entry



def evaluation_job(recipe: Recipe, data: DataChoice, quick: bool):
    """The work of a background job (ui.views.start_job) that evaluates and stores this recipe. The
    recipe is copied now: the controls keep changing the session's own while the job runs."""
    frozen = Recipe.from_dict(recipe.to_dict())
    return lambda progress, should_stop: evaluate_and_store(frozen, data, quick, progress, should_stop,
                                                            use_streamlit_cache=False)

def _plain_base(name: str):
    from slimlib.model.base import load_base

    return load_base(name)


def baseline_entry(base_name: str, data: DataChoice, quick: bool, progress=None, live: bool = False) -> Entry:
    """The empty recipe, evaluated like any config: it carries the baseline's numbers."""
    return evaluate_and_store(Recipe(base_name, []), data, quick, progress, live=live)
