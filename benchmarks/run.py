"""`make bench`: benchmark sections in one process, each printing a markdown table and writing its
rows to benchmarks/results/<section>.json (CPU, date, library versions, git commit, rows), which
`python -m slimlib docs benchmarks` renders into docs/benchmarks.md and the README's headline table.

    make bench                                  # every section (hours on 2 cores)
    make bench BENCH_ARGS="headline"            # the README's rows only
    benchmarks/run.py --json-out DIR baseline   # results elsewhere; --no-json to write none
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SECTIONS = ("baseline", "headline", "structural", "structural_b", "quantize", "mpnet", "static", "distill",
            "runtimes", "app_latency", "sweep")
DEFAULT_SECTIONS = tuple(s for s in SECTIONS if s != "headline")  # headline's rows are the others' rows


def section_rows(name: str, returned, recorded: list[dict]) -> list[dict]:
    """The rows a section measured: those evaluate_rows recorded, else the section's own row dicts
    (bench_quantize returns flat rows; the app-latency and sweep sections return their table rows)."""
    if recorded:
        return recorded
    if isinstance(returned, list) and all(isinstance(r, dict) for r in returned):
        rows = []
        for row in returned:
            row = {k: v for k, v in row.items() if _plain(v)}
            row.setdefault("model", "all-MiniLM-L6-v2")
            row.setdefault("variant", row.get("change") or row.get("runtime") or f"row {len(rows) + 1}")
            rows.append(row)
        return rows
    return []


def _plain(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all but headline)")
    parser.add_argument("--json-out", type=Path, default=None, help="folder for the JSON results "
                        "(default benchmarks/results)")
    parser.add_argument("--no-json", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    wanted = args.sections or list(DEFAULT_SECTIONS)
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    import common

    for name in wanted:
        try:
            module = importlib.import_module(f"bench_{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench_{name}":
                print(f"\n## {name}: not available yet\n")
                continue
            raise
        common.take_recorded()
        start = time.perf_counter()
        if name == "headline":
            returned = module.main([], write=False)
        else:  # run() where a section has one: its main() may parse sys.argv, which holds our arguments
            returned = module.run() if hasattr(module, "run") else module.main()
        if not args.no_json:
            common.write_results(name, section_rows(name, returned, common.take_recorded()), args.json_out)
        print(f"\n({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
