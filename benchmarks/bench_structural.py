"""Structural ops part A on all-MiniLM-L6-v2, no recovery: prune_heads, drop_layers, prune_ffn.

Each row is a recipe evaluated by slimlib.workflows.evaluate (params, exported size, speed interleaved with
the baseline, STS-B dev Spearman, fidelity cosine on the project's first 300 sentences). Importance
scores come from sentences 300-555 of the project corpus, so the fidelity set is held out.
The pair "prune_heads 4/layer taylor" vs "... magnitude" compares the two head rankings at the
same number of pruned heads; "keep layers 0-3" is the naive choice next to "keep 4 by taylor".

Run standalone: .venv/bin/python benchmarks/bench_structural.py [--quick]
"""
from __future__ import annotations

import sys
import time

from common import THREADS, describe_machine, evaluate_rows


def heads(per_layer: int, score: str = "taylor") -> list[dict]:
    return [{"op": "prune_heads", "per_layer": per_layer, "score": score}]


# The taylor-vs-magnitude pair comes first: it is the comparison this section exists to show.
ROWS: list[tuple[str, list[dict]]] = (
    [("prune_heads 4/layer taylor", heads(4)), ("prune_heads 4/layer magnitude", heads(4, "magnitude"))]
    + [(f"prune_heads {n}/layer taylor", heads(n)) for n in (2, 6)]
    + [(f"drop_layers keep {n} (taylor)", [{"op": "drop_layers", "keep": n}]) for n in (4, 3)]
    + [("drop_layers keep layers 0-3 (naive)", [{"op": "drop_layers", "layers": [4, 5]}])]
    + [(f"prune_ffn keep {k} taylor", [{"op": "prune_ffn", "keep": k}]) for k in (0.75, 0.5, 0.25)]
)


def time_scoring(base_model: str = "all-MiniLM-L6-v2") -> float:
    """Seconds to compute Taylor scores (heads, layers, FFN neurons in one pass) from an empty
    cache; the rows below then reuse the cached scores, as the app does."""
    import torch

    from slimlib.ops import importance
    from slimlib.model.base import load_base

    torch.set_num_threads(THREADS)
    base = load_base(base_model)
    importance.cache_path(base, "taylor").unlink(missing_ok=True)
    start = time.perf_counter()
    importance.base_scores(base, "taylor")
    return time.perf_counter() - start


def taylor_vs_magnitude(results: list[dict]) -> str:
    by_label = {row["label"]: row["result"]["compressed"] for row in results}
    taylor, magnitude = by_label.get("prune_heads 4/layer taylor"), by_label.get("prune_heads 4/layer magnitude")
    if not (taylor and magnitude):
        return ""
    verdict = "beats" if taylor["fidelity_cosine"] > magnitude["fidelity_cosine"] else "does NOT beat"
    return (f"Taylor {verdict} magnitude at 24 pruned heads: fidelity cosine {taylor['fidelity_cosine']:.4f} vs "
            f"{magnitude['fidelity_cosine']:.4f}, STS {taylor['sts_spearman']} vs {magnitude['sts_spearman']}")


def main(argv: list[str] | None = None) -> list[dict]:
    quick = "--quick" in (argv or [])
    print(f"\n## Structural ops A (no recovery) — {describe_machine()}\n")
    from slimlib.ops.importance import scoring_sentences

    print(f"Taylor importance scoring (uncached, {len(scoring_sentences())} sentences, heads + layers + FFN "
          f"in one pass): {time_scoring():.1f} s\n")
    results = evaluate_rows(ROWS, quick=quick)
    summary = taylor_vs_magnitude(results)
    if summary:
        print(f"\n{summary}")
    return results


def run() -> list[dict]:
    return main([])


if __name__ == "__main__":
    main(sys.argv[1:])
