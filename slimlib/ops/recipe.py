"""The recipe: the versioned JSON config that the app, the CLI, sweeps and users exchange.

A recipe names a base model and an ordered list of steps. Each step is a dataclass whose fields
carry help text; `__post_init__` checks what can be checked without a model, and `check(shape)`
checks the rest against the shape the model has when the step runs (after the earlier steps),
returning the shape after it. Errors name the step and field: `steps[1].rank: ...`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from ..data.user_files import read_user_text
from ..errors import RecipeError
from ..model.shape import ModelShape
from .registry import op_names, op_spec, step_types

FORMAT = "slimlib.recipe/v1"
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def setting(text: str, *, omit_default: bool = False, **kw) -> Any:
    """A step field with its help text. `omit_default`: the field is left out of the step's dict (the
    recipe JSON and every key hashed from it) while it holds its default, so a setting added after
    recipes were written keeps their keys, history and trained-weights caches valid; such a default
    must never change, since recipes that leave the field out mean it."""
    return field(metadata={"help": text, "omit_default": omit_default}, **kw)


class Step:
    """Base of all recipe steps. Each op module defines a dataclass subclass and registers it
    (slimlib.ops.registry); `op` is set by the registration."""

    op: ClassVar[str]
    where: str = "step"  # set by the parser to "steps[i]" so messages point at the step

    def fail(self, field_name: str, message: str) -> RecipeError:
        return RecipeError(f"{self.where}.{field_name}: {message}")

    def check(self, shape: ModelShape) -> ModelShape:
        return shape

    def to_dict(self) -> dict:
        out = {"op": self.op}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (f.metadata.get("omit_default") and value == f.default):
                continue
            out[f.name] = value
        return out

    # Shared validators -------------------------------------------------------------
    def _require_int(self, name: str, low: int | None = None, high: int | None = None) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"expected a whole number, got {value!r}")
        if low is not None and value < low:
            raise self.fail(name, f"{value} is below the minimum {low}")
        if high is not None and value > high:
            raise self.fail(name, f"{value} is above the maximum {high}")

    def _require_fraction(self, name: str, allow_zero: bool = False, allow_one: bool = True) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(name, f"expected a number between 0 and 1, got {value!r}")
        low_ok = value >= 0 if allow_zero else value > 0
        high_ok = value <= 1 if allow_one else value < 1
        if not (low_ok and high_ok):
            lo = "[0" if allow_zero else "(0"
            hi = "1]" if allow_one else "1)"
            raise self.fail(name, f"{value} is outside the allowed range {lo}, {hi}")

    def _require_one_of(self, names: tuple[str, ...]) -> str:
        given = [n for n in names if getattr(self, n) is not None]
        if len(given) != 1:
            joined = " | ".join(names)
            raise self.fail(joined, f"give exactly one of {', '.join(names)} (got {len(given)})")
        return given[0]

    def _require_choice(self, name: str, choices: tuple) -> None:
        value = getattr(self, name)
        if value not in choices:
            raise self.fail(name, f"{value!r} is not one of {', '.join(map(repr, choices))}")


@dataclass
class Recipe:
    base_model: str = DEFAULT_MODEL
    steps: list[Step] = field(default_factory=list)
    name: str | None = None

    # Parsing ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str = "recipe") -> "Recipe":
        if not isinstance(data, dict):
            raise RecipeError(f"{source}: expected a JSON object with format, base_model and steps")
        fmt = data.get("format")
        if fmt is None:
            raise RecipeError(f'{source}: missing "format" (expected "{FORMAT}")')
        if fmt != FORMAT:
            raise RecipeError(f'{source}: format {fmt!r} is not supported (this slimlib reads "{FORMAT}")')
        known = {"format", "base_model", "steps", "name"}
        unknown = sorted(set(data) - known)
        if unknown:
            warnings.warn(f"{source}: ignoring unknown keys {unknown} (written by a newer slimlib?)", stacklevel=2)
        base = data.get("base_model", DEFAULT_MODEL)
        if not isinstance(base, str) or not base.strip():
            raise RecipeError(f"{source}: base_model must be a model id or folder path, got {base!r}")
        raw_steps = data.get("steps", [])
        if not isinstance(raw_steps, list):
            raise RecipeError(f"{source}: steps must be a list, got {type(raw_steps).__name__}")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise RecipeError(f"{source}: name must be a string")
        return cls(base_model=base, steps=[parse_step(s, f"steps[{i}]") for i, s in enumerate(raw_steps)], name=name)

    @classmethod
    def from_json(cls, text: str, source: str = "recipe") -> "Recipe":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | Path) -> "Recipe":
        text = read_user_text(path, "recipe file", RecipeError)
        return cls.from_json(text, str(path))

    # Writing ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {"format": FORMAT, "base_model": self.base_model, "steps": [s.to_dict() for s in self.steps]}
        if self.name:
            out["name"] = self.name
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    def key(self) -> str:
        """A stable id of what the recipe does (the name is not part of it)."""
        body = {"base_model": self.base_model, "steps": [s.to_dict() for s in self.steps]}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    # Queries ---------------------------------------------------------------------------
    def check(self, shape: ModelShape) -> ModelShape:
        """Check every step against the model's shape; returns the final shape."""
        for index, step in enumerate(self.steps):
            step.where = f"steps[{index}]"
            shape = step.check(shape)
        final_at = next((i for i, s in enumerate(self.steps) if op_spec(s.op).final), None)
        if final_at is not None and final_at != len(self.steps) - 1:
            later, final = self.steps[final_at + 1], self.steps[final_at]
            raise RecipeError(f"{later.where}.op: {later.op} cannot follow {final.op} ({final.where}); "
                              f"{final.op} must be the last step")
        return shape

    def find(self, op: str) -> Step | None:
        return next((s for s in self.steps if s.op == op), None)

    def canonical(self) -> "Recipe":
        ordered = sorted(self.steps, key=lambda s: op_spec(s.op).order)
        return Recipe(self.base_model, ordered, self.name)


def parse_step(data: Any, where: str) -> Step:
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected an object with an \"op\" field, got {type(data).__name__}")
    op = data.get("op")
    spec = op_spec(op) if isinstance(op, str) else None
    if spec is None:
        raise RecipeError(f"{where}.op: {op!r} is not an op; choose one of {', '.join(op_names())}")
    cls = spec.settings
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names - {"op"})
    if unknown:
        raise RecipeError(f"{where}: unknown field(s) {unknown} for op {op}; allowed: {', '.join(sorted(names))}")
    kwargs = {k: v for k, v in data.items() if k != "op"}
    step = cls.__new__(cls)
    step.where = where
    for f in fields(cls):
        if f.name in kwargs:
            setattr(step, f.name, kwargs[f.name])
        elif f.default is not dataclasses.MISSING:
            setattr(step, f.name, f.default)
        else:
            setattr(step, f.name, f.default_factory())
    step.__post_init__()
    return step


def make_step(op: str, **fields_: Any) -> Step:
    """Build a validated step from Python values (used by the app and sweeps)."""
    return parse_step({"op": op, **fields_}, "step")


def op_help() -> dict[str, dict[str, str]]:
    """Every op's fields with their help text, for --help and the docs."""
    return {op: {f.name: f.metadata.get("help", "") for f in fields(cls)} for op, cls in step_types().items()}
