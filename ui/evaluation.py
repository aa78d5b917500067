"""Evaluating configs from the app: the data choice, the result caches and the history.

A result is looked up in the SQLite history (keyed by model, recipe, data and quick; survives
restarts) and only then computed with `slimlib.workflows.evaluate.evaluate`. Every computed result is written
to the history, which is also what the trade-off chart draws.
"""
from __future__ import annotations

import hashlib
import shutil
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from slimlib.workflows.evaluate import QUICK_DEFINITION, EvalOptions, evaluate
from slimlib.history import Entry
from slimlib.data.pairs import QUICK_PAIRS, read_pairs  # noqa: F401  (QUICK_PAIRS: one definition, in slimlib)
from slimlib.data.retrieval import (CORPUS_FILE, QRELS_FILE, QUERIES_FILE, QUICK_DOCUMENT_CHARS, QUICK_OTHER_DOCUMENTS,
                                    QUICK_QUERIES, extract_zip, looks_like_retrieval, read_retrieval)
from slimlib.paths import PROJECT_DIR, data_dir
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import Recipe

from .resources import base_model, history
from .speed_timer import speed_timer

STSB_DEV = PROJECT_DIR.parent / "shared" / "data" / "stsb" / "sts-dev.csv"
CRANFIELD = PROJECT_DIR.parent / "shared" / "data" / "cranfield"  # a BEIR folder: offered when it exists
# Quick (interactive) evaluations score STS on a fixed stratified sample of QUICK_PAIRS pairs (retrieval on
# a fixed stratified subset of QUICK_QUERIES queries, their relevant documents and QUICK_OTHER_DOCUMENTS
# others, each cut to QUICK_DOCUMENT_CHARS characters) and time speed against the baseline in the same call
# (slimlib.workflows.evaluate, the CLI's `eval --quick`), so a control change shows its point within seconds;
# the full evaluation uses everything.
PAIRS, RETRIEVAL = "pairs", "retrieval"


@dataclass(frozen=True)
class DataChoice:
    """What an evaluation scores accuracy on: labelled pairs (STS), a BEIR retrieval folder (nDCG@10,
    Recall@10, MRR@10) or nothing (path None: fidelity only)."""

    path: str | None
    label: str
    digest: str = ""
    kind: str | None = None  # PAIRS, RETRIEVAL or None (no data)

    def key(self, quick: bool) -> str:
        """The history key: the data's content, and for quick results the quick definition they follow
        (for retrieval data the quick cut too, so a change of it never mixes with older rows)."""
        if not self.path:
            return f"none:quick{QUICK_DEFINITION}" if quick else "none"
        if self.kind == RETRIEVAL:
            quick_part = (f"quick{QUICK_DEFINITION}-retrieval-{QUICK_QUERIES}q-{QUICK_OTHER_DOCUMENTS}d-"
                          f"{QUICK_DOCUMENT_CHARS}c")
            return f"beir-{self.digest}:{quick_part if quick else 'all'}"
        quick_part = f"quick{QUICK_DEFINITION}-{QUICK_PAIRS}"
        return f"{self.digest}:{quick_part if quick else 'all'}"

    def options(self, quick: bool) -> EvalOptions:
        return EvalOptions(data=self.path, quick=quick)


NO_DATA = DataChoice(None, "none (fidelity only)")
UPLOADS = "uploads"


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


def _stamp(folder: Path) -> tuple:
    """What changes when a retrieval folder's files change (size and mtime of each; absent ones too)."""
    out = []
    for rel in (CORPUS_FILE, QUERIES_FILE, QRELS_FILE):
        path = folder / rel
        out.append((rel, path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else (rel, None, None))
    return tuple(out)


@st.cache_data(max_entries=16, show_spinner=False)
def _validated_retrieval(path: str, stamp: tuple, name: str | None = None) -> tuple[str, int, int]:
    """Read once to fail early with the folder's own one-line error; returns (digest, queries, documents)."""
    data = read_retrieval(path, name)
    return data.digest, data.queries, data.documents


def retrieval_choice(path: str | Path, label: str, name: str | None = None) -> DataChoice:
    """A checked BEIR folder (raises DataFileError naming the file, line and what is expected)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        read_retrieval(folder, name)  # raises the standard "retrieval folder not found" message
    folder = folder.resolve()
    digest, queries, documents = _validated_retrieval(str(folder), _stamp(folder), name)
    return DataChoice(str(folder), f"{label} ({queries:,} queries, {documents:,} documents)", digest, RETRIEVAL)


def data_choice(path: str, label: str, name: str | None = None) -> DataChoice:
    """A checked pair file, BEIR folder or .zip of one (the kind is detected; raises DataFileError with
    a one-line message).

    `name` is what messages call the file (an upload's own name rather than the server's copy)."""
    resolved = Path(path).expanduser()
    if resolved.suffix.lower() == ".zip" and resolved.is_file():  # a typed path to a zip: unpacked like an upload
        name = name or resolved.name
        resolved = save_upload(resolved.name, resolved.read_bytes())
    if looks_like_retrieval(resolved) or (not resolved.exists() and not resolved.suffix):
        return retrieval_choice(resolved, label, name)
    if not resolved.is_file():
        read_pairs(resolved, name)  # raises the standard "pair file not found" message
    digest, count = _validated(str(resolved.resolve()), resolved.stat().st_mtime, name)
    return DataChoice(str(resolved.resolve()), f"{label} ({count} pairs)", digest, PAIRS)


def _corpus_root(folder: Path) -> Path | None:
    """The folder of an unpacked archive that holds corpus.jsonl (its top level or one top folder)."""
    for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "__MACOSX")]:
        if (candidate / CORPUS_FILE).is_file():
            return candidate
    return None


def _save_zip(folder: Path, digest: str, name: str, data: bytes) -> Path:
    """Unpack an uploaded .zip of a BEIR folder into uploads/<content hash>/ (once: a re-upload finds it)
    and return the folder holding corpus.jsonl. A bad archive leaves nothing behind and raises the
    one-line DataFileError naming the user's file."""
    target = folder / digest
    if target.is_dir():
        root = _corpus_root(target)
        if root is not None:
            return root
        shutil.rmtree(target, ignore_errors=True)  # an older unpack without a corpus: start again
    partial = folder / f".{digest}.{uuid.uuid4().hex[:8]}.partial"
    archive = partial.with_suffix(".zip")
    partial.mkdir(parents=True)
    try:
        archive.write_bytes(data)
        extract_zip(archive, partial, name=name)
        try:
            partial.rename(target)  # atomic: another session's unpack of the same bytes may have won
        except OSError:
            if not target.is_dir():
                raise
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
    root = _corpus_root(target)
    assert root is not None  # extract_zip checked that the archive holds corpus.jsonl
    return root


def save_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded file in the data directory, named by content (re-uploads are free): a pair file
    as uploads/<hash>.csv, a .zip of a BEIR folder unpacked into uploads/<hash>/ (returns that folder)."""
    folder = data_dir() / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    if Path(name).suffix.lower() == ".zip":
        return _save_zip(folder, digest, name, data)
    suffix = Path(name).suffix.lower() if Path(name).suffix.lower() in (".csv", ".tsv", ".txt") else ".csv"
    path = folder / f"{digest}{suffix}"
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
