"""`python -m slimlib COMMAND ...`: everything the app does, headless.

Each command lives in slimlib/commands/<name>.py with `add_parser(subparsers)` and `run(args)`.
User errors print one line on stderr and exit with code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from .errors import Cancelled, SlimlibError

COMMANDS = ("eval", "apply", "verify", "inspect", "report", "sweep", "search", "install_model", "docs")
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    from .ops.recipe import op_help

    ops = "\n".join(f"  {op}: " + ", ".join(fields) for op, fields in op_help().items())
    parser = argparse.ArgumentParser(
        prog="python -m slimlib",
        description="Compress sentence-embedding models and measure what each choice costs and buys.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Recipe ops and their fields (python -m slimlib ops for help text):\n{ops}\n\n"
               'Example recipe: {"format": "slimlib.recipe/v1", "base_model": "all-MiniLM-L6-v2", '
               '"steps": [{"op": "drop_layers", "keep": 3}, {"op": "distill", "steps": 300}, {"op": "quantize", "bits": 8}]}',
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"slimlib.commands.{name}_cmd").add_parser(sub)
    ops_parser = sub.add_parser("ops", help="list every recipe op with its fields and an example")
    ops_parser.set_defaults(func=_print_ops)
    return parser


def _print_ops(_args) -> int:
    import json

    from .ops.recipe import op_help
    from .ops.registry import op_specs

    help_by_op = op_help()
    for spec in op_specs():
        print(f"{spec.name}: {spec.summary}")
        for name, text in help_by_op[spec.name].items():
            print(f"    {name}: {text}")
        print(f"    example: {json.dumps(spec.example_step())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return int(args.func(args) or 0)
    except SlimlibError as exc:
        print(f"slimlib: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Cancelled as exc:
        print(f"slimlib: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("slimlib: interrupted", file=sys.stderr)
        return 130
