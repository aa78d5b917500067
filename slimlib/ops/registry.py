"""The op registry: every compression op described once, where it is defined.

Each op module under slimlib/ops/ calls `register_op(OpSpec(...))` with its settings dataclass,
its apply function and its metadata. Everything that used to be a hand-kept list (the step types
a recipe may hold, the canonical order, examples, titles, chart labels, the ops a search may
combine, which ops keep importance units in place) is derived from here, so a new op is one
module and nothing else in the library.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ..model.shape import REFERENCE_SHAPE, ModelShape

# Importance units an op can leave in place (see importance.scores_for_step).
UNIT_KINDS = ("heads", "ffn", "layers")


@dataclass(frozen=True)
class OpSpec:
    """One op: what it is called, what it takes, what it does, and how it is shown and searched."""

    name: str  # the recipe's "op" value
    settings: type  # the Step dataclass: fields with help text, validation in __post_init__/check
    apply: Callable[..., None]  # apply(ctx: OpContext, step) -> None; changes ctx.st_model in place
    order: int  # canonical position: the app writes steps sorted by it
    title: str  # heading of the op's controls in the app
    summary: str  # one line: what it removes and what it typically costs
    example: Callable[[ModelShape], dict]  # a valid step (without "op") for a model of this shape
    label: Callable[[dict], str]  # short chart label of a step's dict, e.g. "FFN 50%"
    trains: bool = False  # runs an optimizer (minutes): left out of default searches
    final: bool = False  # must be the recipe's last step (it changes what the model is)
    keeps_units: frozenset = frozenset()  # importance units (UNIT_KINDS) it leaves in place
    # Search axes for a model of this shape: {"op.field": [choices]}, the first choice meaning
    # "leave the op out" (0 or the no-op value). Empty: not searched by default.
    search_axes: Callable[[ModelShape], dict[str, list[Any]]] = field(default=lambda shape: {})
    # Why a model after this op is not physically smaller (None: it is); the every-op test reads it.
    not_smaller_because: str | None = None

    def example_step(self, shape: ModelShape | None = None) -> dict:
        """An example step for `shape` (default: all-MiniLM-L6-v2's shape, for --help and docs)."""
        return {"op": self.name, **self.example(shape or REFERENCE_SHAPE)}


_OPS: dict[str, OpSpec] = {}
_LOADED = False
_LOAD_LOCK = threading.RLock()


def register_op(spec: OpSpec) -> OpSpec:
    if spec.name in _OPS and _OPS[spec.name].settings is not spec.settings:
        raise ValueError(f"op {spec.name!r} is registered twice")
    bad = set(spec.keeps_units) - set(UNIT_KINDS)
    if bad:
        raise ValueError(f"op {spec.name!r}: keeps_units {sorted(bad)} not in {UNIT_KINDS}")
    spec.settings.op = spec.name
    _OPS[spec.name] = spec
    return spec


def _load_all() -> None:
    """Import every module of slimlib.ops once, so each op has registered itself."""
    global _LOADED
    if _LOADED:
        return
    with _LOAD_LOCK:
        if _LOADED:
            return
        from . import __name__ as package, __path__ as path

        for info in pkgutil.iter_modules(path):
            importlib.import_module(f"{package}.{info.name}")
        _LOADED = True


def op_specs() -> list[OpSpec]:
    """Every registered op, in canonical order."""
    _load_all()
    return sorted(_OPS.values(), key=lambda spec: spec.order)


def op_names() -> list[str]:
    return [spec.name for spec in op_specs()]


def op_spec(name: str) -> OpSpec | None:
    _load_all()
    return _OPS.get(name)


def step_types() -> dict[str, type]:
    return {spec.name: spec.settings for spec in op_specs()}


def ops_keeping(kind: str) -> frozenset[str]:
    """The ops after which the base model's `kind` importance scores still name the same units."""
    if kind not in UNIT_KINDS:
        raise ValueError(f"kind: expected one of {list(UNIT_KINDS)}, got {kind!r}")
    return frozenset(spec.name for spec in op_specs() if kind in spec.keeps_units)


def step_label(step: dict) -> str:
    spec = op_spec(step.get("op", ""))
    try:
        return spec.label(step) if spec else str(step.get("op"))
    except (KeyError, TypeError, ValueError):  # a step from a newer or hand-edited recipe
        return str(step.get("op"))


def recipe_label(recipe: dict) -> str:
    """A short human label of a recipe's steps, e.g. "keep 3 layers + distill 1000 + 8-bit"."""
    steps = recipe.get("steps", [])
    if not steps:
        return "baseline (no steps)"
    return " + ".join(step_label(s) for s in steps)
