"""Grid files: many recipes from a few lists of op settings.

A grid file is either a JSON list of recipes, or an object

    {"format": "slimlib.grid/v1",
     "base_model": "all-MiniLM-L6-v2",
     "grid": {"prune_heads.per_layer": [0, 2, 4], "drop_layers.keep": [0, 4, 3], "quantize.bits": [32, 8]},
     "steps": [{"op": "distill", "steps": 300}]}

Each "grid" key is OP.FIELD and its value the list of settings to try; the sweep runs every
combination (the cartesian product). Keys of the same op build one step together. A setting of
null, or 0 for a field that cannot be 0 (a count, a rank, a fraction), leaves the op out of that
recipe, so [0, 2, 4] means "no pruning, 2 heads, 4 heads". "steps" (optional) are added to every
recipe; steps are then put in slimlib's canonical order. The search command reads the same
format for --space: there each key's list is the set of choices the sampler picks from.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..data.user_files import read_user_text
from ..errors import RecipeError
from ..ops.recipe import DEFAULT_MODEL, Recipe, Step, parse_step
from ..ops.registry import op_names, op_spec

FORMAT = "slimlib.grid/v1"
MAX_RECIPES = 5000
GRID_KEYS = {"format", "base_model", "grid", "steps", "name"}


@dataclass
class GridSpec:
    """A parsed grid: axes of settings plus steps every recipe shares."""

    base_model: str
    axes: dict[str, list[Any]]  # "op.field" -> settings, validated
    steps: list[Step] = field(default_factory=list)
    name: str | None = None
    recipes: list[Recipe] | None = None  # set when the file was a plain list of recipes

    def key(self) -> str:
        """A stable id of the grid's content (the default study name uses it)."""
        if self.recipes is not None:
            body: Any = [r.key() for r in self.recipes]
        else:
            body = {"base_model": self.base_model, "axes": self.axes, "steps": [s.to_dict() for s in self.steps]}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def to_dict(self) -> dict:
        if self.recipes is not None:
            return {"recipes": [r.to_dict() for r in self.recipes]}
        out = {"format": FORMAT, "base_model": self.base_model, "grid": self.axes,
               "steps": [s.to_dict() for s in self.steps]}
        if self.name:
            out["name"] = self.name
        return out


def split_key(key: str) -> tuple[str, str]:
    """ "prune_heads.per_layer" -> ("prune_heads", "per_layer"), validated against the ops."""
    where = f"grid.{key}"
    if not isinstance(key, str) or key.count(".") != 1:
        raise RecipeError(f"{where}: keys are OP.FIELD, e.g. prune_heads.per_layer")
    op, name = key.split(".")
    spec = op_spec(op)
    if spec is None:
        raise RecipeError(f"{where}: {op!r} is not an op; choose one of {', '.join(op_names())}")
    allowed = [f.name for f in fields(spec.settings)]
    if name not in allowed:
        raise RecipeError(f"{where}: {op} has no field {name!r}; its fields are {', '.join(allowed)}")
    return op, name


def is_off(value: Any) -> bool:
    """null and 0 mean "leave the op out" (0 is never a valid count, rank or fraction)."""
    return value is None or (not isinstance(value, bool) and isinstance(value, (int, float)) and value == 0)


def build_steps(assignment: dict[str, Any], fixed: list[Step] = ()) -> list[Step]:
    """The steps of one combination: keys of one op form one step; an off value drops the op."""
    by_op: dict[str, dict[str, Any]] = {}
    dropped: set[str] = set()
    for key, value in assignment.items():
        op, name = split_key(key)
        if is_off(value) and not _zero_is_valid(op, name, value):
            dropped.add(op)
        by_op.setdefault(op, {})[name] = value
    steps = list(fixed)
    for op, settings in by_op.items():
        if op not in dropped:
            steps.append(parse_step({"op": op, **settings}, f"grid.{op}"))
    return steps


def _zero_is_valid(op: str, name: str, value: Any) -> bool:
    if value is None:
        return False
    try:
        parse_step({"op": op, name: value}, "probe")
        return True
    except RecipeError:
        return False


def recipe_for(spec: GridSpec, assignment: dict[str, Any]) -> Recipe:
    steps = build_steps(assignment, spec.steps)
    return Recipe(spec.base_model, steps, spec.name).canonical()


def combinations(axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


def expand(spec: GridSpec) -> list[tuple[dict[str, Any], Recipe]]:
    """Every combination with its recipe; combinations giving the same recipe run once."""
    if spec.recipes is not None:
        return [({}, r) for r in _unique(spec.recipes)]
    out, seen = [], set()
    for assignment in combinations(spec.axes):
        recipe = recipe_for(spec, assignment)
        if recipe.key() not in seen:
            seen.add(recipe.key())
            out.append((assignment, recipe))
    return out


def _unique(recipes: list[Recipe]) -> list[Recipe]:
    seen, out = set(), []
    for recipe in recipes:
        if recipe.key() not in seen:
            seen.add(recipe.key())
            out.append(recipe)
    return out


def describe(assignment: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in assignment.items()) or "(fixed recipe)"


# Parsing ------------------------------------------------------------------------------------
def parse_axes(raw: Any, source: str = "grid") -> dict[str, list[Any]]:
    if not isinstance(raw, dict) or not raw:
        raise RecipeError(f'{source}: "grid" must be a non-empty object of "op.field": [settings]')
    axes: dict[str, list[Any]] = {}
    for key, values in raw.items():
        split_key(key)
        if not isinstance(values, list) or not values:
            raise RecipeError(f"grid.{key}: expected a non-empty list of settings, got {json.dumps(values)}")
        axes[key] = values
    _check_each_setting(axes)
    return axes


def _check_each_setting(axes: dict[str, list[Any]]) -> None:
    """Build a step for every single setting (other keys of its op at their first real setting),
    so a bad value is reported by its key before anything runs, at a cost linear in the settings."""
    for key, values in axes.items():
        op = key.split(".")[0]
        partners = {k: next((v for v in vs if not is_off(v)), vs[0]) for k, vs in axes.items()
                    if k != key and k.split(".")[0] == op}
        for value in values:
            build_steps({key: value, **partners})


def parse_grid(data: Any, source: str = "grid", limit: int | None = MAX_RECIPES) -> GridSpec:
    """Parse a grid file's content; `limit` caps the combinations (None for a search space)."""
    if isinstance(data, list):
        if not data:
            raise RecipeError(f"{source}: the list of recipes is empty")
        recipes = [_recipe_at(item, i) for i, item in enumerate(data)]
        bases = {r.base_model for r in recipes}
        if len(bases) > 1:
            raise RecipeError(f"{source}: all recipes of a sweep must share one base_model, got {sorted(bases)}")
        return GridSpec(base_model=recipes[0].base_model, axes={}, recipes=recipes)
    if not isinstance(data, dict):
        raise RecipeError(f'{source}: expected a list of recipes or an object with "format": "{FORMAT}"')
    if data.get("format") != FORMAT:
        raise RecipeError(f'{source}.format: expected "{FORMAT}", got {json.dumps(data.get("format"))}')
    unknown = sorted(set(data) - GRID_KEYS)
    if unknown:
        raise RecipeError(f"{source}: unknown key(s) {unknown}; allowed: {', '.join(sorted(GRID_KEYS))}")
    base = data.get("base_model", DEFAULT_MODEL)
    if not isinstance(base, str) or not base.strip():
        raise RecipeError(f"{source}.base_model: expected a model id or folder path, got {json.dumps(base)}")
    raw_steps = data.get("steps", [])
    if not isinstance(raw_steps, list):
        raise RecipeError(f"{source}.steps: expected a list of steps")
    steps = [parse_step(s, f"steps[{i}]") for i, s in enumerate(raw_steps)]
    axes = parse_axes(data.get("grid"), source)
    clash = sorted({k.split(".")[0] for k in axes} & {s.op for s in steps})
    if clash:
        raise RecipeError(f"{source}.steps: op(s) {clash} are both in grid and steps; put each op in one place")
    count = 1
    for values in axes.values():
        count *= len(values)
    if limit is not None and count > limit:
        raise RecipeError(f"{source}: the grid has {count} combinations, above the limit of {limit}; "
                          "use search with it as --space instead")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise RecipeError(f"{source}.name: must be a string")
    return GridSpec(base_model=base.strip(), axes=axes, steps=steps, name=name)


def _recipe_at(item: Any, index: int) -> Recipe:
    """Parse one recipe of a list; step errors are prefixed with its position."""
    where = f"recipes[{index}]"
    try:
        return Recipe.from_dict(item, where)
    except RecipeError as exc:
        message = str(exc)
        raise RecipeError(message if message.startswith(where) else f"{where}.{message}") from None


def load_grid(path: str | Path, limit: int | None = MAX_RECIPES) -> GridSpec:
    path = Path(path)
    text = read_user_text(path, "grid file", RecipeError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    return parse_grid(data, str(path), limit)
