"""Every bit-width of the quantize op on the bundled MiniLM: size, speed, STS-B, each with its label.

Each row is one `evaluate()`: the fp32 baseline and the quantized model measured in the same
process, speed interleaved, so the ratios are comparable even on a noisy machine.

    .venv/bin/python benchmarks/bench_quantize.py                # full STS-B dev, full speed set
    .venv/bin/python benchmarks/bench_quantize.py --quick --pairs 500 --only int8
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slimlib.workflows.evaluate import EvalOptions, evaluate  # noqa: E402
from slimlib.ops.recipe import Recipe  # noqa: E402

STSB_DEV = ROOT.parent / "shared" / "data" / "stsb" / "sts-dev.csv"
VARIANTS = {  # row name -> quantize step
    "fp32 (32)": {"bits": 32},
    "bf16 (16)": {"bits": 16, "float16": "bf16"},
    "fp16 (16)": {"bits": 16, "float16": "fp16"},
    "int8 ORT": {"bits": 8},
    "int4 g32": {"bits": 4},
    "int3 g32": {"bits": 3},
    "int2 g32": {"bits": 2},
}
# The bar for int8, as ratios to fp32 torch measured in the same run.
INT8_TARGETS = {"speedup": 3.0, "size": 0.26, "sts_retained": 0.995}


def pair_file(max_pairs: int | None, folder: Path) -> str:
    if not max_pairs:
        return str(STSB_DEV)
    lines = STSB_DEV.read_text(encoding="utf-8").splitlines()[:max_pairs]
    path = folder / f"sts-dev-{max_pairs}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def row_of(name: str, result: dict) -> dict:
    ratios, labels, compressed = result["ratios"], result["labels"], result["compressed"]
    return {
        "variant": name,
        "size_MB": round(compressed["size_bytes"] / 1e6, 1),
        "size": ratios["size"],
        "speedup": ratios["speedup"],
        "speed_label": labels["sentences_per_s"],
        "sts": compressed["sts_spearman"],
        "sts_retained": ratios["sts_retained"],
        "fidelity_cos": compressed["fidelity_cosine"],
        "accuracy_label": labels["sts_spearman"],
    }


def markdown(rows: list[dict], header: bool = True) -> str:
    heads = list(rows[0])
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)] if header else []
    for row in rows:
        lines.append("| " + " | ".join("n/a" if row[h] is None else str(row[h]) for h in heads) + " |")
    return "\n".join(lines)


def int8_verdict(rows: list[dict]) -> list[str]:
    row = next((r for r in rows if r["variant"] == "int8 ORT"), None)
    if row is None:
        return []
    out = []
    for key, target in INT8_TARGETS.items():
        value = row[key]
        ok = value is not None and (value <= target if key == "size" else value >= target)
        out.append(f"int8 {key}: {value} (target {'<=' if key == 'size' else '>='} {target}) {'PASS' if ok else 'FAIL'}")
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smaller speed and fidelity sets")
    parser.add_argument("--pairs", type=int, default=None, help="use only the first N STS-B dev pairs")
    parser.add_argument("--only", nargs="*", default=None, help="row names (or prefixes) to run, e.g. int8 bf16")
    args = parser.parse_args(argv)
    wanted = [n for n in VARIANTS if not args.only or any(n.startswith(p) for p in args.only)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        options = EvalOptions(data=pair_file(args.pairs, Path(tmp)), threads=args.threads, quick=args.quick)
        for name in wanted:
            recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": "all-MiniLM-L6-v2",
                                       "steps": [{"op": "quantize", **VARIANTS[name]}]})
            result = evaluate(recipe, options)
            rows.append(row_of(name, result))
            print(markdown(rows[-1:], header=len(rows) == 1), flush=True)  # a cut-off run keeps its rows
        base = result["baseline"]
    print(f"baseline fp32 torch: {base['size_bytes'] / 1e6:.1f} MB, STS {base['sts_spearman']}, "
          f"{base['sentences_per_s']} sentences/s at {args.threads} threads ({result['measurement']['hardware']['cpu']}, "
          f"{', '.join(result['measurement']['hardware']['features'])})")
    print("\n" + markdown(rows))
    for line in int8_verdict(rows):
        print(line)
    return rows


def run() -> list[dict]:
    return main([])


if __name__ == "__main__":
    main()
