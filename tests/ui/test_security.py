"""Static guarantees from SECURITY.md: data-only inputs, no remote code, no pickle."""
import re

from helpers import ROOT

SOURCES = [p for d in ("slimlib", "pages", "ui") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]
SOURCES = [p for p in SOURCES if p.is_file()]


def _code_lines():
    for path in SOURCES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.split("#", 1)[0]
            if stripped.strip():
                yield path.relative_to(ROOT), number, stripped


def test_sources_were_found():
    assert any(p.name == "recipe.py" for p in SOURCES)


def test_no_pickle_eval_or_unsafe_yaml():
    pattern = re.compile(r"\bimport pickle\b|\bpickle\.loads?\(|(?<![\w.])eval\(|(?<![\w.])exec\(|yaml\.load\(|\bmarshal\.loads\(")
    hits = [f"{p}:{n}" for p, n, line in _code_lines() if pattern.search(line)]
    assert hits == []


def test_torch_load_only_with_weights_only():
    hits = [f"{p}:{n}" for p, n, line in _code_lines() if "torch.load(" in line and "weights_only=True" not in line]
    assert hits == []


def test_never_trust_remote_code():
    hits = [f"{p}:{n}" for p, n, line in _code_lines() if re.search(r"trust_remote_code\s*=\s*True", line)]
    assert hits == []


def test_server_defaults_are_safe():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert 'address = "127.0.0.1"' in config
    assert "enableXsrfProtection = true" in config
    assert re.search(r"maxUploadSize = \d+", config)
    makefile = (ROOT / "Makefile").read_text()
    assert "ADDRESS ?= 127.0.0.1" in makefile
