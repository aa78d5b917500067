"""The README's headline table: the cheap frontier rows on both real models, written to
benchmarks/results/headline.json (then `python -m slimlib docs benchmarks` renders the tables).

The rows are the other sections' own recipes (so each number means what its section means):
MiniLM's baseline, bf16, int8, 3 of 6 layers + distillation (the op's defaults, on STS-B train
sentences), the same + int8, and the static table; all-mpnet-base-v2's baseline, bf16 and int8
(its rows are left out until `make mpnet` has installed it). Minutes on 2 cores; the distillation
row ~5-10 (cached after the first run).

    .venv/bin/python benchmarks/bench_headline.py [--quick] [row-label substrings ...]

--quick measures as the app does live (STS on a fixed stratified sample of 150 pairs, speed paired
with the baseline on ~100 sentences): for a busy machine or mpnet; the rows say so.
"""
from __future__ import annotations

import sys

import bench_distill
import bench_mpnet
import bench_quantize
import bench_static
from common import describe_machine, evaluate_rows, take_recorded, write_results

MINILM = "all-MiniLM-L6-v2"
MPNET = bench_mpnet.MODEL


def _quantize(name: str) -> list[dict]:
    return [{"op": "quantize", **bench_quantize.VARIANTS[name]}]


_DISTILLED = dict(bench_distill.ROWS)["keep 3 of 6 layers (auto) + distill, op defaults"]
ROWS = {
    MINILM: [
        ("fp32 (baseline)", []),
        ("bf16", _quantize("bf16 (16)")),
        ("int8 ONNX Runtime", _quantize("int8 ORT")),
        ("3 of 6 layers + distill", _DISTILLED),
        ("3 of 6 layers + distill + int8", _DISTILLED + _quantize("int8 ORT")),
        ("static 96d int8 table", dict(bench_static.ROWS)[bench_static.ROWS[0][0]]),
    ],
    MPNET: [
        ("fp32 (baseline)", []),
        ("bf16", dict(bench_mpnet.BIT_WIDTH)["bf16"]),
        ("int8 ONNX Runtime", dict(bench_mpnet.BIT_WIDTH)["int8 ONNX Runtime, self-checked"]),
    ],
}


PLANNED = [[model, label] for model, rows in ROWS.items() for label, _ in rows]  # the renderer lists the missing


def main(argv: list[str] | None = None, write: bool = True) -> list[dict]:
    from slimlib.model.named import installed_named_models

    wanted = [a for a in argv or [] if a != "--quick"]
    quick = "--quick" in (argv or [])
    print(f"\n## Headline rows — {describe_machine()}\n", flush=True)
    measured = []
    for model, rows in ROWS.items():
        if model == MPNET and MPNET not in installed_named_models():
            print(f"{MPNET}: not installed (`make mpnet`), its rows skipped")
            continue
        rows = [r for r in rows if not wanted or any(w in f"{model} {r[0]}" for w in wanted)]
        for row in rows:  # one row at a time, written as it lands: a cut-off run keeps what it measured
            measured += evaluate_rows([row], base_model=model, quick=quick)
            if write:
                write_results("headline", take_recorded(), extra={"planned": PLANNED})
    return measured


def run() -> list[dict]:
    return main([])


if __name__ == "__main__":
    main(sys.argv[1:])
