"""`python -m slimlib apply RECIPE.json --out DIR`"""
from __future__ import annotations

from .common import load_recipe, tqdm_progress


def add_parser(sub) -> None:
    p = sub.add_parser("apply", help="apply a recipe and write the compressed model folder",
                       description="Write the compressed model to DIR; load it with "
                                   "`import slimlib; SentenceTransformer(DIR)`.")
    p.add_argument("recipe", help="recipe JSON file")
    p.add_argument("--out", required=True, help="output folder (replaced if it exists)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..pipeline import apply_recipe

    recipe = load_recipe(args.recipe)
    compressed = apply_recipe(recipe, progress=tqdm_progress())
    folder = compressed.save(args.out)
    print(folder)
    return 0
