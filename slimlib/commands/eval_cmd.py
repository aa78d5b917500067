"""`python -m slimlib eval RECIPE.json [--data PAIRS|BEIR_FOLDER] [--threads N] [--quick] [--json]`"""
from __future__ import annotations

import argparse

from ..data.pairs import QUICK_PAIRS
from ..data.retrieval import QUICK_DOCUMENT_CHARS, QUICK_OTHER_DOCUMENTS, QUICK_QUERIES
from ..measure.metrics import QUICK_ROUNDS
from .common import load_recipe, print_json, tqdm_progress

QUICK_HELP = f"""--quick measures what the app shows live (the same definition everywhere: the app, eval, sweep
and search unless --full):
  speed     timed against the baseline in the same call, alternating the two models batch by
            batch over ~100 sentences x {QUICK_ROUNDS} rounds, each batch's best round (so the empty
            recipe reads about 1.00x; a busy machine adds noise to every speed)
  fidelity  on those ~100 sentences
  STS       on a fixed stratified sample of {QUICK_PAIRS} pairs of --data (evenly spaced over the score
            range within each genre; the same file always gives the same sample), the baseline on the
            same sample; "measurement" says data_pairs of data_pairs_total
  retrieval on a fixed stratified subset of a BEIR folder: {QUICK_QUERIES} queries (spread over their number
            of relevant documents), every document relevant to them and {QUICK_OTHER_DOCUMENTS} others evenly
            spaced over the corpus, each cut to {QUICK_DOCUMENT_CHARS} characters; "measurement.data_sample" says so
Without --quick: every pair (or every query over the whole corpus), 300 fidelity sentences, speed over ~350.
Accuracy figures carry a 95% interval (`..._ci`, a paired bootstrap over pairs or queries) and
"significance" says whether the compressed model's difference is within noise.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="apply a recipe and measure it against its baseline",
                       description="Apply RECIPE to a copy of its base model and measure params, size, speed,\n"
                                   "accuracy on --data (STS Spearman on pairs, nDCG@10 on a retrieval folder)\n"
                                   "and fidelity against the uncompressed baseline.",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=QUICK_HELP)
    p.add_argument("recipe", help="recipe JSON file")
    p.add_argument("--data", help="labelled pair file (STS Benchmark TSV, or CSV/TSV with sentence1,sentence2,score: "
                                  "STS Spearman) or a BEIR retrieval folder (corpus.jsonl, queries.jsonl, "
                                  "qrels/test.tsv: nDCG@10, Recall@10, MRR@10)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--quick", action="store_true",
                   help=f"measure on subsets, as the app does live: STS on a stratified sample of {QUICK_PAIRS} pairs, "
                        "speed paired with the baseline on ~100 sentences (see below)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..workflows.evaluate import EvalOptions, evaluate
    from ..report.text import format_eval

    recipe = load_recipe(args.recipe)
    if args.threads is not None and args.threads < 1:
        from ..errors import SlimlibError

        raise SlimlibError(f"--threads: {args.threads} is not allowed; give 1 or more")
    result = evaluate(recipe, EvalOptions(data=args.data, threads=args.threads, quick=args.quick),
                      progress=tqdm_progress())
    if args.json:
        print_json(result)
    else:
        print(format_eval(result))
    return 0
