"""`python -m slimlib apply RECIPE.json --out DIR [--onnx] [--data PAIRS] [--no-eval]`"""
from __future__ import annotations

from .common import load_recipe, tqdm_progress


def add_parser(sub) -> None:
    p = sub.add_parser("apply", help="apply a recipe and write the compressed model folder",
                       description="Write the compressed model to DIR with its recipe and a README.md model card of "
                                   "measured numbers; load it with `import slimlib; SentenceTransformer(DIR)`.")
    p.add_argument("recipe", help="recipe JSON file")
    p.add_argument("--out", required=True, help="output folder (replaced if it exists)")
    p.add_argument("--onnx", action="store_true",
                   help="also write model.onnx (int8 when the recipe quantizes to 8 bits, else fp32) that runs "
                        "with onnxruntime and tokenizers alone")
    p.add_argument("--data", help="labelled pair file for the model card's STS numbers")
    p.add_argument("--threads", type=int, help="torch threads for the measurements")
    p.add_argument("--no-eval", action="store_true", help="skip measuring (the model card says so)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..workflows.export import export

    recipe = load_recipe(args.recipe)
    folder = export(recipe, args.out, onnx=args.onnx, data=args.data, threads=args.threads,
                    measure=not args.no_eval, progress=tqdm_progress())
    print(folder)
    return 0
