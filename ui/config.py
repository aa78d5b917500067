"""The explorer's controls as a plain dict, and its two-way mapping to a `slimlib.ops.recipe.Recipe`.

No Streamlit here: the pages keep this dict in session state and draw widgets from it, and tests
check that a recipe survives `recipe_to_config` -> `config_to_recipe` unchanged. Fields a control
does not show (e.g. a distillation learning rate from an uploaded recipe) ride along in `extra`
so restoring a config from history or a URL never silently changes the recipe.
"""
from __future__ import annotations

import base64
import copy
import json
import zlib

from slimlib.errors import RecipeError
from slimlib.ops.recipe import DEFAULT_MODEL, LOW_RANK_TARGETS, Recipe, make_step

DEFAULTS: dict = {
    "model": DEFAULT_MODEL,
    "heads_mode": "off",  # off | per_layer | fraction | explicit
    "heads_per_layer": 2,
    "heads_fraction": 0.25,
    "heads_explicit": {},  # {"layer": [head ids]} set on the Heads page
    "layers_mode": "choose",  # choose (checkboxes) | keep (N by importance)
    "layers_dropped": [],
    "layers_keep": 3,
    "ffn_keep": 1.0,  # 1.0 = off
    "low_rank_mode": "off",  # off | rank | energy
    "low_rank_rank": 128,
    "low_rank_energy": 0.9,
    "low_rank_targets": list(LOW_RANK_TARGETS),
    "embedding_rank": 0,  # 0 = off
    "vocab_tokens": 0,  # 0 = off
    "share": "off",  # off | pairs | all
    "bits": 32,  # 32 = off
    "distill": False,
    "distill_steps": 300,
    "extra": {},  # {op: {field: value}} for fields without a control
}

# Fields each op's controls own; anything else in a restored step goes to `extra`.
CONTROLLED = {
    "prune_heads": {"per_layer", "fraction", "heads"},
    "drop_layers": {"layers", "keep"},
    "prune_ffn": {"keep"},
    "low_rank": {"rank", "energy", "targets"},
    "factorize_embeddings": {"rank"},
    "trim_vocab": {"max_tokens"},
    "share_layers": {"groups"},
    "distill": {"steps"},
    "quantize": {"bits"},
}


def default_config(**changes) -> dict:
    config = copy.deepcopy(DEFAULTS)
    config.update(copy.deepcopy(changes))
    return config


def share_groups(mode: str, num_layers: int) -> list[list[int]] | None:
    """Weight-sharing groups for the simple choices the page offers."""
    if mode == "pairs":
        groups = [[i, i + 1] for i in range(0, num_layers - 1, 2)]
        return groups or None
    if mode == "all" and num_layers >= 2:
        return [list(range(num_layers))]
    return None


def _step(op: str, config: dict, **controlled):
    fields = {**config.get("extra", {}).get(op, {}), **controlled}
    return make_step(op, **fields)


def config_to_recipe(config: dict, num_layers: int, available: set[str] | None = None) -> Recipe:
    """The recipe the controls describe, in canonical order. Ops not in `available` are left out
    (they are drawn disabled); invalid values raise RecipeError naming the field."""
    c = {**DEFAULTS, **config}
    steps = []

    def wanted(op: str) -> bool:
        return available is None or op in available

    if c["heads_mode"] != "off" and wanted("prune_heads"):
        if c["heads_mode"] == "per_layer":
            steps.append(_step("prune_heads", c, per_layer=int(c["heads_per_layer"])))
        elif c["heads_mode"] == "fraction":
            steps.append(_step("prune_heads", c, fraction=float(c["heads_fraction"])))
        elif c["heads_mode"] == "explicit" and any(c["heads_explicit"].values()):
            heads = {str(k): sorted(v) for k, v in c["heads_explicit"].items() if v}
            steps.append(_step("prune_heads", c, heads=heads))
    if wanted("drop_layers"):
        if c["layers_mode"] == "keep" and int(c["layers_keep"]) < num_layers:
            steps.append(_step("drop_layers", c, keep=int(c["layers_keep"])))
        elif c["layers_mode"] == "choose" and c["layers_dropped"]:
            steps.append(_step("drop_layers", c, layers=sorted(int(i) for i in c["layers_dropped"])))
    if float(c["ffn_keep"]) < 1.0 and wanted("prune_ffn"):
        steps.append(_step("prune_ffn", c, keep=round(float(c["ffn_keep"]), 4)))
    if c["low_rank_mode"] != "off" and wanted("low_rank"):
        targets = [t for t in LOW_RANK_TARGETS if t in c["low_rank_targets"]]
        if not targets:
            raise RecipeError("low rank: choose at least one target (attention, ffn_in, ffn_out)")
        amount = {"rank": int(c["low_rank_rank"])} if c["low_rank_mode"] == "rank" else {"energy": float(c["low_rank_energy"])}
        steps.append(_step("low_rank", c, targets=targets, **amount))
    if int(c["embedding_rank"]) > 0 and wanted("factorize_embeddings"):
        steps.append(_step("factorize_embeddings", c, rank=int(c["embedding_rank"])))
    if int(c["vocab_tokens"]) > 0 and wanted("trim_vocab"):
        steps.append(_step("trim_vocab", c, max_tokens=int(c["vocab_tokens"])))
    if c["share"] == "custom":  # groups restored from a recipe that the simple choices cannot express
        groups = c["extra"].get("share_layers", {}).get("groups")
    else:
        groups = share_groups(c["share"], num_layers)
    if groups and wanted("share_layers"):
        steps.append(_step("share_layers", c, groups=groups))
    if c["distill"] and wanted("distill"):
        steps.append(_step("distill", c, steps=int(c["distill_steps"])))
    if int(c["bits"]) != 32 and wanted("quantize"):
        steps.append(_step("quantize", c, bits=int(c["bits"])))
    return Recipe(c["model"], steps).canonical()


def recipe_to_config(recipe: Recipe, num_layers: int | None = None) -> dict:
    """Controls that reproduce the recipe (the inverse of config_to_recipe)."""
    config = default_config(model=recipe.base_model)
    extra: dict[str, dict] = {}
    for step in recipe.steps:
        data = step.to_dict()
        op = data.pop("op")
        rest = {k: v for k, v in data.items() if k not in CONTROLLED.get(op, set())}
        if rest:
            extra[op] = rest
        if op == "prune_heads":
            if step.per_layer is not None:
                config.update(heads_mode="per_layer", heads_per_layer=step.per_layer)
            elif step.fraction is not None:
                config.update(heads_mode="fraction", heads_fraction=step.fraction)
            else:
                config.update(heads_mode="explicit", heads_explicit={k: list(v) for k, v in step.heads.items()})
        elif op == "drop_layers":
            if step.keep is not None:
                config.update(layers_mode="keep", layers_keep=step.keep)
            else:
                config.update(layers_mode="choose", layers_dropped=list(step.layers))
        elif op == "prune_ffn":
            config["ffn_keep"] = step.keep
        elif op == "low_rank":
            if step.rank is not None:
                config.update(low_rank_mode="rank", low_rank_rank=step.rank)
            else:
                config.update(low_rank_mode="energy", low_rank_energy=step.energy)
            config["low_rank_targets"] = list(step.targets)
        elif op == "factorize_embeddings":
            config["embedding_rank"] = step.rank
        elif op == "trim_vocab":
            config["vocab_tokens"] = step.max_tokens
        elif op == "share_layers":
            config["share"] = _share_mode(step.groups, num_layers)
            if config["share"] == "custom":
                extra.setdefault("share_layers", {})["groups"] = step.groups
        elif op == "distill":
            config.update(distill=True, distill_steps=step.steps)
        elif op == "quantize":
            config["bits"] = step.bits
    config["extra"] = extra
    return config


def _share_mode(groups: list[list[int]], num_layers: int | None) -> str:
    n = num_layers or (max(i for g in groups for i in g) + 1)
    for mode in ("pairs", "all"):
        if share_groups(mode, n) == groups:
            return mode
    return "custom"


# Shareable URLs: the recipe itself, compressed and URL-safe, in one query parameter -------------
def encode_recipe(recipe: Recipe) -> str:
    raw = json.dumps(recipe.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def decode_recipe(token: str) -> Recipe:
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = zlib.decompress(base64.urlsafe_b64decode(padded.encode()))
        data = json.loads(raw)
    except (ValueError, zlib.error, UnicodeDecodeError):
        raise RecipeError("the link's config parameter is damaged (copy the whole link)") from None
    return Recipe.from_dict(data, "link")
