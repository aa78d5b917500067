"""Helpers shared by CLI commands: progress bars on stderr, recipe loading, JSON output."""
from __future__ import annotations

import json
import sys

from ..ops.recipe import Recipe


def tqdm_progress():
    """A progress callback drawing one tqdm bar per step on stderr."""
    from tqdm import tqdm

    state = {"bar": None, "label": None}

    def progress(message: str, fraction: float) -> None:
        label = message.split(":")[0]
        if state["label"] != label:
            if state["bar"] is not None:
                state["bar"].close()
            state["bar"] = tqdm(total=100, desc=label, file=sys.stderr, leave=False,
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
            state["label"] = label
        bar = state["bar"]
        bar.n = int(max(0.0, min(1.0, fraction)) * 100)
        bar.refresh()
        if fraction >= 1.0:
            bar.close()
            state["label"] = None

    return progress


def load_recipe(path: str) -> Recipe:
    return Recipe.load(path)


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
