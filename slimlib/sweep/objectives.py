"""Objectives: which numbers of an eval result a search optimizes, and in which direction.

Which accuracy objective makes sense follows the kind of `--data` (`data_kind`): labelled pairs
score STS (`sts`), a BEIR retrieval folder scores nDCG@10 (`ndcg`), and without data only the
label-free `fidelity` is measured.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SlimlibError
from ..report.result import SWEEP_METRICS

# name -> (path into the eval JSON, default direction, what it means); defined once with the other metrics
METRICS = SWEEP_METRICS
DIRECTIONS = {"min": "minimize", "max": "maximize"}
# The eval JSON's "labels" key that says how each metric was obtained (e.g. "not measured: no kernel").
LABEL_KEYS = {"size": "size_bytes", "params": "params", "speed": "sentences_per_s", "sts": "sts_spearman",
              "ndcg": "ndcg_at_10", "fidelity": "fidelity_cosine"}
PAIRS, RETRIEVAL = "pairs", "retrieval"
# The accuracy objective each kind of data measures (and so the only one it allows).
ACCURACY = {PAIRS: "sts", RETRIEVAL: "ndcg"}
WHAT = {PAIRS: "a labelled pair file", RETRIEVAL: "a retrieval folder", None: "no --data"}


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str  # "min" or "max"

    @property
    def label(self) -> str:
        return f"{self.metric}:{self.direction}"

    @property
    def optuna_direction(self) -> str:
        return DIRECTIONS[self.direction]

    def value(self, result: dict) -> float | None:
        section, key = METRICS[self.metric][0]
        value = (result.get(section) or {}).get(key)
        return None if value is None else float(value)


def data_kind(data: str | None) -> str | None:
    """ "retrieval" for a BEIR folder (or a named set like nanobeir:scifact), "pairs" for a pair file,
    None without data. A folder that is not a BEIR folder raises its one-line DataFileError here,
    before any worker starts."""
    if not data:
        return None
    from ..data.public_sets import is_named_set
    from ..data.retrieval import is_retrieval_folder, read_retrieval

    if is_named_set(data) or is_retrieval_folder(data):
        return RETRIEVAL
    if Path(data).is_dir():
        read_retrieval(data)  # raises the message naming the missing file
    return PAIRS


def _kind(kind: str | bool | None) -> str | None:
    """The data kind; a bool (what older callers pass: "has pair data") means pairs or none."""
    if isinstance(kind, bool):
        return PAIRS if kind else None
    if kind not in (None, PAIRS, RETRIEVAL):
        raise ValueError(f"data kind {kind!r}: expected {PAIRS!r}, {RETRIEVAL!r} or None")
    return kind


def default_objectives(kind: str | bool | None) -> str:
    """STS needs labelled pairs, nDCG@10 a retrieval folder; without data the label-free fidelity
    takes their place."""
    return "size:min,speed:max," + {PAIRS: "sts:max", RETRIEVAL: "ndcg:max", None: "fidelity:max"}[_kind(kind)]


def _refuse(name: str, kind: str | None) -> str | None:
    """Why `name` cannot be an objective with this kind of data (None when it can)."""
    needs = {metric: k for k, metric in ACCURACY.items()}.get(name)
    if needs is None or needs == kind:
        return None
    allowed = ", ".join(m for m in METRICS if m not in ACCURACY.values() or m == ACCURACY.get(kind))
    need_text = {PAIRS: "labelled pairs (--data PAIRS)", RETRIEVAL: "a retrieval folder (--data FOLDER in the BEIR layout)"}
    instead = (f"use {ACCURACY[kind]}:max, what {WHAT[kind]} measures" if kind is not None else
               "without data use fidelity:max, the label-free agreement with the base model")
    given = f"--data is {WHAT[kind]}" if kind is not None else "no --data is given"
    return f"--objectives: {name} needs {need_text[needs]}, but {given}; {instead} (allowed: {allowed})"


def parse_objectives(text: str, kind: str | bool | None) -> list[Objective]:
    """Parse "size:min,speed:max,sts:max"; a bare metric takes its usual direction. `kind` is the
    data's (`data_kind`): sts needs pairs, ndcg a retrieval folder."""
    kind = _kind(kind)
    if not isinstance(text, str) or not text.strip():
        raise SlimlibError("--objectives: give at least one metric, e.g. size:min,speed:max")
    out: list[Objective] = []
    for part in text.split(","):
        name, _, direction = part.strip().partition(":")
        name = name.strip().lower()
        if name not in METRICS:
            raise SlimlibError(f"--objectives: {name!r} is not a metric; choose from {', '.join(METRICS)}")
        direction = (direction.strip().lower() or METRICS[name][1])
        if direction not in DIRECTIONS:
            raise SlimlibError(f"--objectives: {part.strip()!r} has direction {direction!r}; use min or max")
        refusal = _refuse(name, kind)
        if refusal:
            raise SlimlibError(refusal)
        if any(o.metric == name for o in out):
            raise SlimlibError(f"--objectives: {name} is given twice")
        out.append(Objective(name, direction))
    return out


def objective_values(objectives: list[Objective], result: dict) -> tuple[list[float] | None, str | None]:
    """The values to tell the study, or None and the reason a metric is missing."""
    values = []
    for objective in objectives:
        value = objective.value(result)
        if value is None:
            how = (result.get("labels") or {}).get(LABEL_KEYS[objective.metric], "not measured")
            return None, f"{objective.metric} has no value ({how})"
        values.append(value)
    return values, None
