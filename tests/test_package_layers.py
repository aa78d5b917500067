"""The package's architecture rule (README, "Architecture"): imports point downwards, no cycles.

Read from the source, function-level (lazy) imports included: a lazy import still ties two modules
together, it only hides the cycle from Python. Only `if TYPE_CHECKING:` blocks are left out.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "slimlib"

# Lower layers never import higher ones; modules of one layer may import each other (no cycles).
LAYERS = [
    {"errors", "paths", "optional"},
    {"model", "data"},
    {"measure"},
    {"ops"},
    {"report", "history"},
    {"workflows"},
    {"sweep", "commands"},
    {"cli", "__main__", ""},  # "" is slimlib/__init__.py, the public face
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_part(module: str) -> str:
    """`slimlib.ops.recipe` -> "ops"; `slimlib.cli` -> "cli"; `slimlib` -> ""."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def imported_modules(path: Path, known: set[str], package_root: Path = PACKAGE) -> set[str]:
    """The slimlib modules `path` imports (a `from x import name` counts `x.name` when it is a module)."""
    tree = ast.parse(path.read_text())
    skipped = type_checking_nodes(tree)
    here = module_name(path, package_root)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(anchor + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != here}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, known) for p in paths}


def test_every_part_of_the_package_has_a_layer(graph):
    assert {top_part(module) for module in graph} <= set(RANK), "add the new part to LAYERS (and the README)"


def test_imports_point_downwards(graph):
    upward = sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                    if top_part(target) != top_part(module) and RANK[top_part(target)] > RANK[top_part(module)])
    assert upward == []


def test_no_import_cycles(graph):
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_the_checker_sees_a_lazy_import(tmp_path):
    """The rule would pass vacuously if function-level imports were missed."""
    source = tmp_path / "slimlib" / "model"
    source.mkdir(parents=True)
    (source / "a.py").write_text("def f():\n    from ..ops import recipe\n")
    found = imported_modules(source / "a.py", {"slimlib.ops.recipe", "slimlib.ops"}, tmp_path / "slimlib")
    assert found == {"slimlib.ops", "slimlib.ops.recipe"}
