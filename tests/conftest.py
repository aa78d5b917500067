"""Shared fixtures.

Expensive models are loaded once per session; tests compress deep copies (the pipeline does that),
never the cached base. Tiny models are built from configs with random weights, saved as real
sentence-transformers folders (with MiniLM's tokenizer files) and loaded through the same path
users take, so every op can be tested in seconds on both architectures.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import ROOT, build_tiny_model, mark_items

STSB_DIR = ROOT.parent / "shared" / "data" / "stsb"


# In-process app tests (AppTest) time a point's speed in the evaluation's call, whatever other tests ran
# in the last seconds: by default the app picks background timing while a session is alone, which would
# depend on test order. Browser tests' servers run the product default (browser_support.start_streamlit).
os.environ.setdefault("SLIMLIB_BACKGROUND_SPEED", "0")

# Where the user's data folder is before the test run points SLIMLIB_DATA_DIR elsewhere: installed
# named models (all-mpnet-base-v2, `make mpnet`) are read from it.
USER_DATA_DIR = os.environ.get("SLIMLIB_DATA_DIR")

def pytest_collection_modifyitems(config, items):
    mark_items(items)  # slow and browser, from what each test uses (helpers.py says how)


@pytest.fixture(scope="session", autouse=True)
def _isolated_data_dir(tmp_path_factory):
    """Caches and history of the test run go to a temp folder, never the project's data/."""
    path = tmp_path_factory.mktemp("slimlib-data")
    os.environ["SLIMLIB_DATA_DIR"] = str(path)
    yield path


@pytest.fixture(scope="session")
def stsb_dev() -> Path:
    path = STSB_DIR / "sts-dev.csv"
    if not path.is_file():
        pytest.skip(f"STS Benchmark not found at {path}")
    return path


@pytest.fixture(scope="session")
def stsb_dev_small(stsb_dev, tmp_path_factory) -> Path:
    """The first 200 STS-B dev pairs: enough for a Spearman, quick on CPU."""
    lines = stsb_dev.read_text(encoding="utf-8").splitlines()[:200]
    path = tmp_path_factory.mktemp("stsb") / "sts-dev-200.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2 as a slimlib LoadedBase (read-only; compress copies)."""
    from slimlib.model.base import load_base

    return load_base("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def mpnet():
    """The real all-mpnet-base-v2 (read-only; compress copies), or a skip naming the install command."""
    from slimlib.model.base import load_base
    from slimlib.paths import default_data_dir

    folder = Path(USER_DATA_DIR or default_data_dir()) / "models" / "all-mpnet-base-v2"
    if not (folder / "model.safetensors").is_file():
        pytest.skip("all-mpnet-base-v2 is not installed: run `make mpnet`")
    return load_base(str(folder))


@pytest.fixture(scope="session")
def tiny_bert_path(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"), "bert")


@pytest.fixture(scope="session")
def tiny_mpnet_path(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-mpnet"), "mpnet")


@pytest.fixture(scope="session")
def tiny_bert(tiny_bert_path):
    from slimlib.model.base import load_base

    return load_base(str(tiny_bert_path))


@pytest.fixture(scope="session")
def tiny_mpnet(tiny_mpnet_path):
    from slimlib.model.base import load_base

    return load_base(str(tiny_mpnet_path))


@pytest.fixture(scope="session")
def wide_teacher(tmp_path_factory) -> Path:
    """A tiny BERT 96 wide: wider than the 64-wide tiny students (distill's "dense" projection)."""
    return build_tiny_model(tmp_path_factory.mktemp("wide"), "bert", hidden=96, heads=4, intermediate=128, seed=1)


@pytest.fixture(scope="session")
def normalized_student(tiny_bert_path, tmp_path_factory):
    """The tiny BERT ending in Normalize, as most sentence-transformers models do (read-only)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize

    from slimlib.model.base import load_base

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.append(Normalize())
    folder = tmp_path_factory.mktemp("normalized") / "st"
    model.save(str(folder))
    return load_base(str(folder))


@pytest.fixture(params=["bert", "mpnet"])
def tiny(request, tiny_bert, tiny_mpnet):
    """Each tiny architecture in turn."""
    return tiny_bert if request.param == "bert" else tiny_mpnet
