"""`python -m slimlib apply RECIPE.json --out DIR [--onnx] [--data PAIRS] [--no-eval]`"""
from __future__ import annotations

from .common import load_recipe, tqdm_progress


def add_parser(sub) -> None:
    p = sub.add_parser("apply", help="apply a recipe and write the compressed model folder",
                       description="Write the compressed model to DIR with its recipe, a README.md model card of measured numbers "
                                   "and reference embeddings for `verify`. The folder is a standard sentence-transformers "
                                   "folder whenever the compressed shapes allow (no slimlib needed to load it); the "
                                   "output says which.")
    p.add_argument("recipe", help="recipe JSON file")
    p.add_argument("--out", required=True, help="output folder (replaced if it exists)")
    p.add_argument("--onnx", action="store_true",
                   help="also write onnx/model.onnx (int8 when the recipe quantizes to 8 bits, else fp32; low-bit "
                        "weights dequantized) that runs with onnxruntime and tokenizers alone")
    p.add_argument("--openvino", action="store_true",
                   help="also write openvino/model.xml + model.bin (OpenVINO IR; needs slimlib[openvino])")
    p.add_argument("--data", help="labelled pair file for the model card's STS numbers")
    p.add_argument("--threads", type=int, help="torch threads for the measurements")
    p.add_argument("--no-eval", action="store_true", help="skip measuring (the model card says so)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from ..workflows.export import describe_folder, export

    recipe = load_recipe(args.recipe)
    folder = export(recipe, args.out, onnx=args.onnx, openvino=args.openvino, data=args.data, threads=args.threads,
                    measure=not args.no_eval, progress=tqdm_progress())
    print(folder)
    for line in describe_folder(folder).lines():
        print(line, file=sys.stderr)
    return 0
