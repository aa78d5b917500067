"""`python -m slimlib report RECIPE.json [RECIPE.json ...] --out report.html`"""
from __future__ import annotations

from .common import load_recipe, tqdm_progress


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="evaluate recipes and write one self-contained HTML page for stakeholders",
                       description="Evaluate each recipe against its baseline and write an HTML page with the "
                                   "trade-off charts and the table (plotly.js embedded: opens offline).")
    p.add_argument("recipes", nargs="+", help="recipe JSON files")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--data", help="labelled pair file for STS Spearman, or a retrieval folder in the BEIR layout "
                                  "(corpus.jsonl, queries.jsonl, qrels/test.tsv) for nDCG@10, Recall@10 and MRR@10")
    p.add_argument("--threads", type=int, help="torch threads")
    p.add_argument("--quick", action="store_true", help="measure on a subset")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import SlimlibError
    from ..workflows.evaluate import EvalOptions, evaluate
    from ..report.html import render_report

    recipes = [(path, load_recipe(path)) for path in args.recipes]  # validate all before any work
    results = []
    for path, recipe in recipes:
        result = evaluate(recipe, EvalOptions(data=args.data, threads=args.threads, quick=args.quick),
                          progress=tqdm_progress())
        result["source"] = str(path)
        results.append(result)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_report(results), encoding="utf-8")
    except OSError as exc:
        raise SlimlibError(f"{out}: cannot write the report ({exc.strerror})") from None
    print(out)
    return 0
