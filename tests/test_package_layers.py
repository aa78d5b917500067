"""The architecture rule (README, "Architecture"): imports point downwards, no cycles, in slimlib/
and in ui/ (each with its own layers); ui/ may import slimlib, slimlib never imports ui or streamlit.

Read from the source, function-level (lazy) imports included: a lazy import still ties two modules
together, it only hides the cycle from Python. Only `if TYPE_CHECKING:` blocks are left out.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "slimlib"
UI = ROOT / "ui"

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
# The app's parts: ui/__init__.py ("") stays empty; op_controls are the sidebar controls, one per op;
# state owns the session state; page, controls and views draw.
UI_LAYERS = [
    {"", "resources", "jobs", "op_controls"},
    {"config", "speed_timer"},
    {"state", "evaluation"},
    {"page", "controls", "views"},
]
PACKAGES = {"slimlib": (PACKAGE, LAYERS), "ui": (UI, UI_LAYERS)}


def ranks(layers: list[set[str]]) -> dict[str, int]:
    return {part: rank for rank, parts in enumerate(layers) for part in parts}



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


def import_graph(package_root: Path) -> dict[str, set[str]]:
    paths = sorted(package_root.rglob("*.py"))
    known = {module_name(p, package_root) for p in paths}
    return {module_name(p, package_root): imported_modules(p, known, package_root) for p in paths}


def top_level_imports(path: Path) -> set[str]:
    """The top-level names of every absolute import in `path` (`import streamlit.x` -> "streamlit")."""
    tree = ast.parse(path.read_text())
    skipped = type_checking_nodes(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def private_imports(path: Path, packages: tuple[str, ...] = tuple(PACKAGES)) -> list[str]:
    """`from x import _name` in `path` where x is one of ours: another module's private name (make it public)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in packages):
            found += [f"{'.' * node.level}{node.module or ''} {alias.name}" for alias in node.names
                      if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


@pytest.fixture(scope="module", params=sorted(PACKAGES))
def layered(request) -> tuple[dict[str, set[str]], dict[str, int]]:
    package_root, layers = PACKAGES[request.param]
    return import_graph(package_root), ranks(layers)


def test_every_part_of_the_package_has_a_layer(layered):
    graph, rank = layered
    assert {top_part(module) for module in graph} <= set(rank), "add the new part to its LAYERS (and the README)"


def test_imports_point_downwards(layered):
    graph, rank = layered
    upward = sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                    if top_part(target) != top_part(module) and rank[top_part(target)] > rank[top_part(module)])
    assert upward == []


def test_no_import_cycles(layered):
    graph, _ = layered
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


def test_no_module_imports_private_names():
    offenders = sorted(f"{path.relative_to(ROOT)}: {name}" for package_root, _ in PACKAGES.values()
                       for path in sorted(package_root.rglob("*.py")) for name in private_imports(path))
    assert offenders == []


def test_slimlib_never_imports_the_app():
    """The library works without the app's extra: no ui, no streamlit, lazy imports included."""
    offenders = sorted(f"{path.relative_to(ROOT)} imports {name}" for path in sorted(PACKAGE.rglob("*.py"))
                       for name in top_level_imports(path) & {"ui", "streamlit"})
    assert offenders == []


def test_the_checker_sees_a_lazy_import(tmp_path):
    """The rule would pass vacuously if function-level imports were missed."""
    source = tmp_path / "slimlib" / "model"
    source.mkdir(parents=True)
    (source / "a.py").write_text("def f():\n    from ..ops import recipe\n")
    found = imported_modules(source / "a.py", {"slimlib.ops.recipe", "slimlib.ops"}, tmp_path / "slimlib")
    assert found == {"slimlib.ops", "slimlib.ops.recipe"}


def test_the_checker_sees_a_ui_cycle(tmp_path):
    """ui/'s graph is built the same way: a lazy import back up is a cycle."""
    source = tmp_path / "ui"
    source.mkdir()
    (source / "state.py").write_text("def f():\n    from .page import g\n")
    (source / "page.py").write_text("from . import state\n")
    graph = import_graph(source)
    assert graph["ui.state"] == {"ui.page"} and "ui.state" in graph["ui.page"]
