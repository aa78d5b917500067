"""Shared benchmark plumbing: evaluate rows of recipes on one base model, print a markdown table, and
write the rows as JSON (benchmarks/results/<section>.json, which docs/benchmarks.md is rendered from).

Every ratio in a row is measured in one process against the baseline, interleaved (see
slimlib/measure/metrics.py); absolute times are noisy on shared machines, ratios much less so.
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
        _RECORDED.append(result_row(label, result, base_model, out[-1]["seconds"]))
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


# Machine-readable results ---------------------------------------------------------------------------
# `make bench` (benchmarks/run.py) writes one JSON file per section into benchmarks/results/; the
# tables in docs/benchmarks.md and README.md are rendered from them (`python -m slimlib docs benchmarks`).
RESULTS = ROOT / "benchmarks" / "results"
RESULTS_FORMAT = "slimlib.bench/v1"
_RECORDED: list[dict] = []  # rows evaluate_rows measured since the last take_recorded()


def git_commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_metadata(threads: int = THREADS) -> dict:
    """What a reader needs to judge a number: the CPU, the date, the library versions, the commit."""
    import datetime

    from slimlib.measure.hardware import cpu_info, library_versions

    info = cpu_info()
    return {"cpu": info["cpu"], "cpu_features": info["features"], "cores": info["cores"], "threads": threads,
            "date": datetime.date.today().isoformat(), "versions": library_versions(), "commit": git_commit()}


def result_row(label: str, result: dict, model: str | None = None, seconds: float | None = None) -> dict:
    """One evaluate() result as a flat, JSON-friendly row (what the renderer reads)."""
    c, b, r, labels = result["compressed"], result["baseline"], result["ratios"], result.get("labels", {})
    row = {
        "model": model or result.get("base_model"),
        "variant": label,
        "steps": result.get("recipe", {}).get("steps", []),
        "params": c.get("params"),
        "size_mb": None if c.get("size_bytes") is None else round(c["size_bytes"] / 1e6, 1),
        "size_ratio": r.get("size"),
        "speedup": r.get("speedup"),
        "sentences_per_s": c.get("sentences_per_s"),
        "baseline_sentences_per_s": b.get("sentences_per_s"),
        "sts": c.get("sts_spearman"),
        "baseline_sts": b.get("sts_spearman"),
        "sts_retained": r.get("sts_retained"),
        "fidelity_cosine": c.get("fidelity_cosine"),
        "speed_how": labels.get("sentences_per_s", "measured"),
        "accuracy_how": labels.get("sts_spearman", "measured"),
        "notes": result.get("notes", []),
        "seconds": seconds,
        "quick": bool(result.get("measurement", {}).get("quick")),
        "sts_pairs": result.get("measurement", {}).get("data_pairs"),
    }
    for key, value in c.items():  # metrics added later (e.g. retrieval) travel too
        if key not in ("params", "size_bytes", "sentences_per_s", "sts_spearman", "fidelity_cosine"):
            row.setdefault(key, value)
    return row


def take_recorded() -> list[dict]:
    """The rows evaluate_rows measured since the last call (and forget them)."""
    rows = list(_RECORDED)
    _RECORDED.clear()
    return rows


def write_results(section: str, rows: list[dict], folder: Path | None = None, merge: bool = True,
                  extra: dict | None = None) -> Path | None:
    """Write benchmarks/results/<section>.json: the run's metadata and its rows.

    With `merge`, rows already in the file (same model and variant) measured on the same CPU are
    replaced and the others kept, so a run of a few rows updates the file instead of truncating it;
    each row carries its own date and commit. A file from another CPU is replaced whole.
    """
    import json

    if not rows:
        return None
    folder = Path(folder or RESULTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{section}.json"
    meta = run_metadata()
    stamped = [{**row, "date": meta["date"], "commit": meta["commit"]} for row in rows]
    old_rows: list[dict] = []
    if merge and path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old.get("cpu") == meta["cpu"] and old.get("cpu_features") == meta["cpu_features"]:
            fresh = {(r.get("model"), r.get("variant")) for r in stamped}
            old_rows = [r for r in old.get("rows", []) if (r.get("model"), r.get("variant")) not in fresh]
    body = {"format": RESULTS_FORMAT, "section": section, **meta, **(extra or {}), "rows": old_rows + stamped}
    path.write_text(json.dumps(body, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    print(f"(results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}, {len(stamped)} row(s) written)",
          flush=True)
    return path
