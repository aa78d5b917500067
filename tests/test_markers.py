"""The markers say what a test costs: `pytest -m "not slow"` runs tiny random models only, and
`-m "not browser"` runs no Chromium. helpers.mark_items applies them from what each test uses."""
from __future__ import annotations

import ast
import types
from pathlib import Path

from helpers import SLOW_FIXTURES, mark_items, uses_browser

TESTS = Path(__file__).resolve().parent


class FakeItem:
    def __init__(self, fixturenames=(), module=None):
        self.fixturenames = list(fixturenames)
        self.module = module
        self.markers: set[str] = set()

    def add_marker(self, marker):
        self.markers.add(marker.name)


def module_using(function) -> types.ModuleType:
    module = types.ModuleType("test_fake")
    module.helper = function
    return module


def test_a_real_model_or_a_browser_makes_a_test_slow():
    from browser_support import launch

    plain, real, nested, browser = (FakeItem(["tiny_bert", "tmp_path"]), FakeItem(["minilm"]),
                                    FakeItem(["minilm_int8", "minilm"]), FakeItem([], module_using(launch)))
    by_param = FakeItem(["explore"])
    by_param.callspec = types.SimpleNamespace(params={"explore": "minilm"})
    mark_items([plain, real, nested, browser, by_param])
    assert plain.markers == set()
    assert real.markers == nested.markers == by_param.markers == {"slow"}
    assert browser.markers == {"slow", "browser"}


def test_every_collected_test_carries_its_markers(request):
    """Checks the tests this run collected (all of them in `make test`)."""
    wrong = []
    for item in request.session.items:
        names = {mark.name for mark in item.iter_markers()}
        if SLOW_FIXTURES & set(item.fixturenames) and "slow" not in names:
            wrong.append(f"{item.nodeid}: uses a real model but is not slow")
        module = getattr(item, "module", None)
        if module is not None and uses_browser(module) and not {"slow", "browser"} <= names:
            wrong.append(f"{item.nodeid}: drives a browser but is not marked slow and browser")
    assert wrong == []


def test_browser_modules_are_recognized():
    """Every test module that starts Chromium imports browser_support (the detection relies on it)."""
    drivers = sorted(p.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py")
                     if "sync_playwright" in p.read_text(encoding="utf-8"))
    assert drivers and all("browser_support" in (TESTS / p).read_text(encoding="utf-8") for p in drivers), drivers


def test_no_module_imports_from_conftest():
    """conftest.py is pytest's (fixtures, hooks); shared helpers are imported from helpers.py."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.ImportFrom) and node.module == "conftest") or \
                    (isinstance(node, ast.Import) and any(alias.name == "conftest" for alias in node.names)):
                offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert offenders == []
