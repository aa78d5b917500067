"""`make bench`: every benchmark section in one process, each printing a markdown table.

Run a subset with `make bench BENCH_ARGS="baseline quantize"`.
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SECTIONS = ("baseline", "structural", "structural_b", "quantize", "mpnet", "static", "distill", "runtimes", "app_latency",
            "sweep")


def main(argv: list[str]) -> int:
    wanted = argv or list(SECTIONS)
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    for name in wanted:
        try:
            module = importlib.import_module(f"bench_{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench_{name}":
                print(f"\n## {name}: not available yet\n")
                continue
            raise
        start = time.perf_counter()
        module.main()
        print(f"\n({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
