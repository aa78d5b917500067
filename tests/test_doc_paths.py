"""Every repo file a comment, docstring or doc names exists: a renamed file leaves no stale pointers.

`stale_paths(files)` takes the list of files to read, so docs can be added to FILES later. A
reference is a path-like word ending in .py, .md, .json, .toml or .txt:
- with a folder (`ops/int8.py`, `tests/ui/test_security.py`): resolved against the repo root,
  slimlib/, tests/ and the folders from the naming file up; it is checked only when its first folder
  is one of ours (so `1_Pooling/config.json`, a model folder's layout, is not a repo path);
- bare (`slim.py`): in comments, docstrings and non-Python files, a .py or .md name must be some
  file's name in the repo. Bare .json/.txt/.toml names are file formats (config.json), not paths.
Placeholders with <...> or * (`tests/ops/test_<op>.py`) never match; other intended non-paths go
in ALLOWED with the reason.
"""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".venv", ".git", "docs", "node_modules", "__pycache__"}  # docs/: added when rewritten
NON_PYTHON = ["SECURITY.md", "Makefile", ".ci/run", "pyproject.toml", "requirements.txt"]

# (naming file, reference): why it is not a repo path
ALLOWED = {
}
OUTSIDE = {"GUIDE.md": "the team's guide, outside the repo (/work/shared)"}  # named from any file
GENERATED = ("benchmarks/results/",)  # written by `make bench`: named before a run has made them
NOT_SCANNED = {"tests/test_doc_paths.py": "its own examples of stale references"}

REFERENCE = re.compile(r"(?<![\w./<>{}*-])([A-Za-z0-9_][\w./-]*\.(?:py|md|json|toml|txt))\b")
CHECKED_BARE = (".py", ".md")


def repo_files() -> list[Path]:
    """The .py files of the repo (not the venv, not docs/ yet) and the non-Python files in NON_PYTHON."""
    python = [p for p in ROOT.rglob("*.py") if not SKIPPED_DIRS & set(p.relative_to(ROOT).parts)
              and p.relative_to(ROOT).as_posix() not in NOT_SCANNED]
    return sorted(python) + [ROOT / name for name in NON_PYTHON if (ROOT / name).is_file()]


def text_regions(path: Path) -> Iterable[tuple[int, str, bool]]:
    """(line, text, prose) pieces to read: a Python file's comments and strings (prose: comments and
    triple-quoted strings, where a bare file name is a reference), or every line of any other file."""
    source = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        yield from ((number, line, True) for number, line in enumerate(source.splitlines(), 1))
        return
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string, True
        elif token.type == tokenize.STRING:
            prose = token.string.lstrip("rbfuRBFU")[:3] in ('"""', "'''")
            for offset, line in enumerate(token.string.splitlines()):
                yield token.start[0] + offset, line, prose


def stale_paths(files: Iterable[Path], root: Path = ROOT) -> list[str]:
    """`file:line: reference` for every reference in `files` to a repo file that does not exist."""
    names = {p.name for p in root.rglob("*") if not SKIPPED_DIRS & set(p.relative_to(root).parts)}
    names |= {p.name for p in (root / "docs").glob("*")}
    stale = []
    for path in files:
        shown = path.relative_to(root).as_posix()
        bases = [root, root / "slimlib", root / "tests", *path.parents]
        for number, text, prose in text_regions(path):
            for reference in REFERENCE.findall(text):
                if (shown, reference) in ALLOWED or reference in OUTSIDE or ".." in reference.split("/") or reference.startswith(GENERATED):
                    continue
                if "/" in reference:
                    first = reference.split("/")[0]
                    homes = [base for base in bases if (base / first).is_dir()]
                    if homes and not any((base / reference).exists() for base in homes):
                        stale.append(f"{shown}:{number}: {reference}")
                elif prose and reference.endswith(CHECKED_BARE) and reference not in names:
                    stale.append(f"{shown}:{number}: {reference}")
    return stale


def test_every_named_file_exists():
    assert stale_paths(repo_files()) == []


def test_the_scanner_finds_stale_references(tmp_path):
    (tmp_path / "slimlib" / "ops").mkdir(parents=True)
    (tmp_path / "slimlib" / "ops" / "int8.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "NOTES.md").write_text("See ops/int8.py and tests/test_onnx.py, tests/ops/test_<op>.py.\n")
    code = tmp_path / "slimlib" / "a.py"
    code.write_text('"""Loaded as slim_model.py says; 1_Pooling/config.json is a model file."""\n'
                    'x = open("scratch.py")  # see ops/int8.py\n'
                    'y = "slimlib/measure.py"\n')
    assert stale_paths([tmp_path / "NOTES.md", code], tmp_path) == [
        "NOTES.md:1: tests/test_onnx.py",
        "slimlib/a.py:1: slim_model.py",
        "slimlib/a.py:3: slimlib/measure.py",
    ]
