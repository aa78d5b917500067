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

from ..errors import RecipeError

FORMAT = "slimlib.ops.recipe/v1"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
LOW_RANK_TARGETS = ("attention", "ffn_in", "ffn_out")
QUANT_BITS = (32, 16, 8, 4, 3, 2)


@dataclass
class ModelShape:
    """The sizes a recipe step can be checked against; each step returns the shape after it."""

    num_layers: int
    heads: list[int]  # heads per layer
    head_dim: int
    hidden: int
    intermediate: list[int]  # FFN width per layer
    vocab: int
    embedding_rank: int | None = None

    def copy(self) -> "ModelShape":
        return dataclasses.replace(self, heads=list(self.heads), intermediate=list(self.intermediate))


def _help(text: str, **kw) -> Any:
    return field(metadata={"help": text}, **kw)


class Step:
    """Base of all recipe steps. Subclasses are dataclasses registered in STEP_TYPES by `op`."""

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
            if value is not None:
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
class PruneHeads(Step):
    op: ClassVar[str] = "prune_heads"
    per_layer: int | None = _help("Remove this many heads from every layer (the least important).", default=None)
    fraction: float | None = _help("Remove this fraction of all heads, ranked globally.", default=None)
    heads: dict[str, list[int]] | None = _help(
        'Explicit heads to remove, {"layer": [head ids]}, layer indices as strings.', default=None
    )
    score: str = _help('How heads are ranked: "taylor" (gradient of a fidelity loss) or "magnitude".', default="taylor")

    def __post_init__(self) -> None:
        which = self._require_one_of(("per_layer", "fraction", "heads"))
        self._require_choice("score", ("taylor", "magnitude"))
        if which == "per_layer":
            self._require_int("per_layer", low=1)
        elif which == "fraction":
            self._require_fraction("fraction", allow_one=False)
        else:
            if not isinstance(self.heads, dict) or not self.heads:
                raise self.fail("heads", 'expected a non-empty mapping {"layer": [head ids]}')
            clean: dict[str, list[int]] = {}
            for layer, ids in self.heads.items():
                if not str(layer).lstrip("-").isdigit():
                    raise self.fail("heads", f"layer key {layer!r} is not a layer index")
                if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                    raise self.fail(f"heads.{layer}", f"expected a list of head ids, got {ids!r}")
                clean[str(int(layer))] = sorted(set(ids))
            self.heads = dict(sorted(clean.items(), key=lambda kv: int(kv[0])))

    def check(self, shape: ModelShape) -> ModelShape:
        out = shape.copy()
        if self.per_layer is not None:
            most = max(shape.heads)
            if self.per_layer > most:
                raise self.fail("per_layer", f"{self.per_layer} exceeds {most}, the most heads any layer has")
            out.heads = [max(0, h - self.per_layer) for h in shape.heads]
        elif self.fraction is not None:
            total = sum(shape.heads)
            removed = int(round(self.fraction * total))
            if removed >= total:
                raise self.fail("fraction", f"{self.fraction} would remove all {total} heads")
            # Which layers lose heads is decided by the importance scores at apply time.
            out.heads = list(shape.heads)
        else:
            for layer, ids in self.heads.items():
                index = int(layer)
                if not 0 <= index < shape.num_layers:
                    raise self.fail("heads", f"layer {index} does not exist (the model has layers 0-{shape.num_layers - 1})")
                bad = [i for i in ids if not 0 <= i < shape.heads[index]]
                if bad:
                    raise self.fail(f"heads.{layer}", f"head ids {bad} do not exist (layer {index} has heads 0-{shape.heads[index] - 1})")
                out.heads[index] = shape.heads[index] - len(ids)
            if sum(out.heads) == 0:
                raise self.fail("heads", "would remove every head of the model; keep at least one")
        return out


@dataclass
class DropLayers(Step):
    op: ClassVar[str] = "drop_layers"
    layers: list[int] | None = _help("Indices of the layers to remove.", default=None)
    keep: int | None = _help("Keep this many layers, chosen by importance.", default=None)

    def __post_init__(self) -> None:
        which = self._require_one_of(("layers", "keep"))
        if which == "keep":
            self._require_int("keep", low=1)
        else:
            if not isinstance(self.layers, list) or not self.layers or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in self.layers
            ):
                raise self.fail("layers", f"expected a non-empty list of layer indices, got {self.layers!r}")
            self.layers = sorted(set(self.layers))

    def check(self, shape: ModelShape) -> ModelShape:
        n = shape.num_layers
        if self.keep is not None:
            if self.keep > n:
                raise self.fail("keep", f"{self.keep} exceeds {n}, the number of layers")
            kept = list(range(self.keep))  # which ones is decided by importance; sizes are alike
        else:
            bad = [i for i in self.layers if not 0 <= i < n]
            if bad:
                raise self.fail("layers", f"layers {bad} do not exist (the model has layers 0-{n - 1})")
            if len(self.layers) >= n:
                raise self.fail("layers", f"would drop all {n} layers; keep at least one")
            kept = [i for i in range(n) if i not in self.layers]
        out = shape.copy()
        out.num_layers = len(kept)
        out.heads = [shape.heads[i] for i in kept]
        out.intermediate = [shape.intermediate[i] for i in kept]
        return out


@dataclass
class PruneFFN(Step):
    op: ClassVar[str] = "prune_ffn"
    keep: float = _help("Fraction of each layer's FFN neurons to keep, chosen by importance.", default=0.5)
    score: str = _help('How neurons are ranked: "taylor" or "magnitude".', default="taylor")

    def __post_init__(self) -> None:
        self._require_fraction("keep")
        self._require_choice("score", ("taylor", "magnitude"))

    def check(self, shape: ModelShape) -> ModelShape:
        out = shape.copy()
        out.intermediate = [max(1, int(round(self.keep * i))) for i in shape.intermediate]
        return out


@dataclass
class LowRank(Step):
    op: ClassVar[str] = "low_rank"
    rank: int | None = _help("Keep this many singular values per factorized Linear.", default=None)
    energy: float | None = _help("Keep the fewest singular values holding this fraction of the energy.", default=None)
    targets: list[str] = _help(
        'Which Linears: any of "attention" (Q, K, V, output), "ffn_in", "ffn_out".',
        default_factory=lambda: list(LOW_RANK_TARGETS),
    )

    def __post_init__(self) -> None:
        which = self._require_one_of(("rank", "energy"))
        if which == "rank":
            self._require_int("rank", low=1)
        else:
            self._require_fraction("energy")
        if not isinstance(self.targets, list) or not self.targets:
            raise self.fail("targets", f"expected a non-empty list of {', '.join(LOW_RANK_TARGETS)}")
        bad = [t for t in self.targets if t not in LOW_RANK_TARGETS]
        if bad:
            raise self.fail("targets", f"{bad} not allowed; choose from {', '.join(LOW_RANK_TARGETS)}")
        self.targets = [t for t in LOW_RANK_TARGETS if t in self.targets]

    def check(self, shape: ModelShape) -> ModelShape:
        if self.rank is not None:
            dims = []
            if "attention" in self.targets:
                dims += [shape.hidden] + [h * shape.head_dim for h in shape.heads if h]
            if "ffn_in" in self.targets or "ffn_out" in self.targets:
                dims += [shape.hidden] + shape.intermediate
            smallest = min(dims)
            if self.rank > smallest:
                raise self.fail("rank", f"{self.rank} exceeds {smallest}, the smallest dimension of the targeted layers")
        return shape


@dataclass
class FactorizeEmbeddings(Step):
    op: ClassVar[str] = "factorize_embeddings"
    rank: int = _help("Inner dimension r of the (vocab x r)(r x hidden) factorization.", default=128)

    def __post_init__(self) -> None:
        self._require_int("rank", low=1)

    def check(self, shape: ModelShape) -> ModelShape:
        if self.rank >= shape.hidden:
            raise self.fail("rank", f"{self.rank} must be below the hidden size {shape.hidden} to save anything")
        out = shape.copy()
        out.embedding_rank = self.rank
        return out


@dataclass
class TrimVocab(Step):
    op: ClassVar[str] = "trim_vocab"
    corpus: str = _help('"default" (the project sentences) or a text / pair file whose tokens must be kept.', default="default")
    max_tokens: int = _help("Vocabulary size after trimming: the corpus tokens, then the most frequent up to this.", default=8000)

    def __post_init__(self) -> None:
        if not isinstance(self.corpus, str) or not self.corpus:
            raise self.fail("corpus", f'expected "default" or a file path, got {self.corpus!r}')
        self._require_int("max_tokens", low=16)

    def check(self, shape: ModelShape) -> ModelShape:
        if self.max_tokens > shape.vocab:
            raise self.fail("max_tokens", f"{self.max_tokens} exceeds the vocabulary size {shape.vocab}")
        out = shape.copy()
        out.vocab = self.max_tokens
        return out


@dataclass
class ShareLayers(Step):
    op: ClassVar[str] = "share_layers"
    groups: list[list[int]] = _help("Groups of layer indices; each group uses one set of weights.", default_factory=list)
    init: str = _help('The shared weights start as the "mean" of the group\'s layers or as the "first" layer\'s.', default="mean")

    def __post_init__(self) -> None:
        self._require_choice("init", ("mean", "first"))
        ok = isinstance(self.groups, list) and self.groups and all(
            isinstance(g, list) and len(g) >= 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in g)
            for g in self.groups
        )
        if not ok:
            raise self.fail("groups", f"expected a list of groups of at least two layer indices, got {self.groups!r}")
        seen = [i for g in self.groups for i in g]
        if len(seen) != len(set(seen)):
            raise self.fail("groups", "a layer appears in more than one group")

    def check(self, shape: ModelShape) -> ModelShape:
        n = shape.num_layers
        bad = [i for g in self.groups for i in g if not 0 <= i < n]
        if bad:
            raise self.fail("groups", f"layers {bad} do not exist (the model has layers 0-{n - 1})")
        for group in self.groups:
            sizes = {(shape.heads[i], shape.intermediate[i]) for i in group}
            if len(sizes) > 1:
                raise self.fail("groups", f"layers {group} have different shapes and cannot share weights")
        return shape


@dataclass
class Distill(Step):
    op: ClassVar[str] = "distill"
    steps: int = _help("Optimizer steps.", default=300)
    lr: float = _help("AdamW learning rate.", default=1e-4)
    batch_size: int = _help("Sentences per step.", default=32)
    corpus: str = _help('"default" (the project sentences) or a text / pair file of training sentences.', default="default")
    seed: int = _help("Seed for shuffling and dropout: the same seed trains the same weights.", default=0)
    max_seq_length: int = _help("Token limit per sentence while training.", default=128)
    loss: str = _help('"mse", "cosine" or "mse+cosine" between student and teacher embeddings.', default="mse+cosine")
    corpus_sha256: str | None = _help("Hash of the training sentences, filled in when the step runs.", default=None)

    def __post_init__(self) -> None:
        self._require_int("steps", low=1, high=100_000)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr <= 1:
            raise self.fail("lr", f"expected a learning rate in (0, 1], got {self.lr!r}")
        self._require_int("batch_size", low=1, high=4096)
        self._require_int("seed", low=0)
        self._require_int("max_seq_length", low=8, high=8192)
        self._require_choice("loss", ("mse", "cosine", "mse+cosine"))
        if not isinstance(self.corpus, str) or not self.corpus:
            raise self.fail("corpus", f'expected "default" or a file path, got {self.corpus!r}')


@dataclass
class Quantize(Step):
    op: ClassVar[str] = "quantize"
    bits: int = _help("Weight bit-width: 32 (none), 16, 8, 4, 3 or 2.", default=8)
    embeddings: bool = _help("Quantize the word-embedding table too.", default=True)
    float16: str = _help('For bits 16: "bf16" (fast on CPUs with AVX-512 bf16) or "fp16" (slow on CPUs).', default="bf16")
    group_size: int = _help("For 4, 3, 2 bits: weights per scale group.", default=32)

    def __post_init__(self) -> None:
        if self.bits not in QUANT_BITS or isinstance(self.bits, bool):
            raise self.fail("bits", f"{self.bits!r} is not allowed; choose one of {', '.join(map(str, QUANT_BITS))}")
        if not isinstance(self.embeddings, bool):
            raise self.fail("embeddings", f"expected true or false, got {self.embeddings!r}")
        self._require_choice("float16", ("bf16", "fp16"))
        self._require_int("group_size", low=8, high=4096)
        if self.group_size & (self.group_size - 1):
            raise self.fail("group_size", f"{self.group_size} is not a power of two")

    def check(self, shape: ModelShape) -> ModelShape:
        return shape


STEP_TYPES: dict[str, type[Step]] = {
    cls.op: cls
    for cls in (PruneHeads, DropLayers, PruneFFN, LowRank, FactorizeEmbeddings, TrimVocab, ShareLayers, Distill, Quantize)
}
# The order the app writes steps in: vocabulary and structure first (indices refer to the
# original layers as long as possible), then factorization, then recovery, then bit-width.
CANONICAL_ORDER = (
    "trim_vocab", "prune_heads", "prune_ffn", "share_layers", "drop_layers",
    "low_rank", "factorize_embeddings", "distill", "quantize",
)


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
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RecipeError(f"{path}: recipe file not found") from None
        except UnicodeDecodeError:
            raise RecipeError(f"{path}: not a UTF-8 text file") from None
        except OSError as exc:
            raise RecipeError(f"{path}: cannot read ({exc.strerror})") from None
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
        quantize_at = next((i for i, s in enumerate(self.steps) if s.op == "quantize"), None)
        if quantize_at is not None and quantize_at != len(self.steps) - 1:
            later = self.steps[quantize_at + 1]
            raise RecipeError(f"{later.where}.op: {later.op} cannot follow quantize ({self.steps[quantize_at].where}); "
                              "quantize must be the last step")
        return shape

    def find(self, op: str) -> Step | None:
        return next((s for s in self.steps if s.op == op), None)

    def canonical(self) -> "Recipe":
        rank = {op: i for i, op in enumerate(CANONICAL_ORDER)}
        ordered = sorted(self.steps, key=lambda s: rank[s.op])
        return Recipe(self.base_model, ordered, self.name)


def parse_step(data: Any, where: str) -> Step:
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected an object with an \"op\" field, got {type(data).__name__}")
    op = data.get("op")
    if op not in STEP_TYPES:
        raise RecipeError(f"{where}.op: {op!r} is not an op; choose one of {', '.join(STEP_TYPES)}")
    cls = STEP_TYPES[op]
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
    return {op: {f.name: f.metadata.get("help", "") for f in fields(cls)} for op, cls in STEP_TYPES.items()}
