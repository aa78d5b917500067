"""Shared benchmark plumbing: evaluate rows of recipes on one base model and print a markdown table.

Every ratio in a row is measured in one process against the baseline, interleaved (see
slimlib/measure.py); absolute times are noisy on shared machines, ratios much less so.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STSB_DEV = ROOT.parent / "shared" / "data" / "stsb" / "sts-dev.csv"
STSB_TRAIN = ROOT.parent / "shared" / "data" / "stsb" / "sts-train.csv"
THREADS = 2
COLUMNS = ("variant", "params", "size MB", "size ratio", "speedup", "STS Spearman", "STS retained", "fidelity cos", "how")


def evaluate_rows(rows, base_model: str = "all-MiniLM-L6-v2", data: Path | None = STSB_DEV, threads: int = THREADS,
                  quick: bool = False) -> list[dict]:
    """Evaluate (label, steps) rows; returns one dict per row with the eval JSON under 'result'."""
    from slimlib.workflows.evaluate import EvalOptions, evaluate
    from slimlib.ops.recipe import FORMAT, Recipe

    out = []
    for label, steps in rows:
        recipe = Recipe.from_dict({"format": FORMAT, "base_model": base_model, "steps": steps})
        start = time.perf_counter()
        result = evaluate(recipe, EvalOptions(data=str(data) if data else None, threads=threads, quick=quick))
        out.append({"label": label, "result": result, "seconds": round(time.perf_counter() - start, 1)})
        print_row(out[-1], header=len(out) == 1)
    print("\nWhat each row did (the ops' notes):")
    for row in out:
        for note in row["result"].get("notes", []):
            print(f"- {row['label']}: {note}")
    print(flush=True)
    return out


def _fmt(value, pattern):
    return "-" if value is None else pattern.format(value)


def row_cells(label: str, result: dict) -> list[str]:
    c, r, labels = result["compressed"], result["ratios"], result["labels"]
    how = labels.get("sentences_per_s", "measured")
    return [label, f"{c['params'] / 1e6:.2f}M", f"{c['size_bytes'] / 1e6:.1f}", _fmt(r["size"], "{:.3f}"),
            _fmt(r["speedup"], "{:.2f}x"), _fmt(c["sts_spearman"], "{:.2f}"), _fmt(r["sts_retained"], "{:.1%}"),
            _fmt(c["fidelity_cosine"], "{:.4f}"), "speed " + how]


def print_row(row: dict, header: bool = False) -> None:
    if header:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
    print("| " + " | ".join(row_cells(row["label"], row["result"])) + " |", flush=True)


def describe_machine() -> str:
    from slimlib.measure.hardware import cpu_info

    info = cpu_info()
    return f"{info['cpu']}, {info['cores']} cores, features: {', '.join(info['features']) or 'unknown'}; torch threads {THREADS}"
