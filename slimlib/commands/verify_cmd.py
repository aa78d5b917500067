"""`python -m slimlib verify FOLDER`: every runtime in an exported folder against its reference embeddings."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="load an exported folder with each runtime it holds and compare embeddings",
                       description="Loads FOLDER with every runtime it contains (plain sentence-transformers "
                                   "without slimlib where the folder is standard, slimlib where not, ONNX Runtime "
                                   "alone, OpenVINO alone, model2vec for static models), encodes fixed sentences and "
                                   "prints one line per runtime with the minimum cosine to the embeddings written at "
                                   "export time. Exit 0 when every runtime agrees within its tolerance, 1 otherwise.")
    p.add_argument("folder", help="a folder written by `python -m slimlib apply`")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..workflows.verify import verify_folder

    checks = verify_folder(args.folder)
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1
