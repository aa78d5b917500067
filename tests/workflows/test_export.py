"""Export: model folder + recipe + model card, HTML report, safe destinations."""
import json
import os
import subprocess

import pytest

from slimlib.cli import main
from slimlib.errors import SlimlibError
from slimlib.workflows.export import export
from slimlib.ops.recipe import FORMAT, Recipe


def tiny_recipe(base, *steps):
    return Recipe.from_dict({"format": FORMAT, "base_model": str(base.path), "steps": list(steps)})


def test_export_writes_model_recipe_and_card(tiny_bert, tmp_path, stsb_dev_small):
    folder = export(tiny_recipe(tiny_bert), tmp_path / "out", data=str(stsb_dev_small), threads=1)
    card = (folder / "README.md").read_text()
    assert "| sentences / s |" in card and "Hardware:" in card and "torch" in card
    assert "STS Spearman x100" in card and "sts-dev-200.csv" in card
    assert json.loads((folder / "slimlib_recipe.json").read_text())["base_model"] == str(tiny_bert.path)
    assert (folder / "model.safetensors").is_file() and not (folder / "vocab.txt").exists()


def test_export_without_measuring_says_so(tiny_bert, tmp_path):
    folder = export(tiny_recipe(tiny_bert), tmp_path / "out", measure=False)
    assert "Not measured" in (folder / "README.md").read_text()


def test_export_refuses_to_replace_an_unrelated_folder(tiny_bert, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(SlimlibError, match="exists and is not a slimlib export"):
        export(tiny_recipe(tiny_bert), precious, measure=False)
    assert (precious / "thesis.txt").read_text() == "do not delete"
    # An earlier export may be replaced.
    first = export(tiny_recipe(tiny_bert), tmp_path / "again", measure=False)
    assert export(tiny_recipe(tiny_bert), first, measure=False) == first


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_destination(tiny_bert, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(SlimlibError, match="cannot write here"):
            export(tiny_recipe(tiny_bert), locked / "out", measure=False)
    finally:
        locked.chmod(0o700)


def test_unwritable_destination_as_root_via_a_file_in_the_way(tiny_bert, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SlimlibError):
        export(tiny_recipe(tiny_bert), blocker / "out", measure=False)


@pytest.fixture
def small_disk(tmp_path):
    """A 12 MB tmpfs: room for one tiny-model export (~8.6 MB), not two. Needs root (mount)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount_point
    import gc

    gc.collect()  # models loaded from a standard folder memory-map their weights until collected
    subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def test_full_disk_is_one_message_and_the_earlier_export_survives(tiny_bert, small_disk):
    from sentence_transformers import SentenceTransformer

    first = export(tiny_recipe(tiny_bert), small_disk / "first", measure=False)
    before = SentenceTransformer(str(first), device="cpu").encode(["a full disk"], convert_to_numpy=True)
    with pytest.raises(SlimlibError, match=r"second: could not save the model \(No space left on device\)"):
        export(tiny_recipe(tiny_bert), small_disk / "second", measure=False)
    assert sorted(p.name for p in small_disk.iterdir()) == ["first"]  # no half-written folder left behind
    after = SentenceTransformer(str(first), device="cpu").encode(["a full disk"], convert_to_numpy=True)
    assert (before == after).all()


def test_report_is_self_contained_html(tiny_bert, tmp_path, capsys):
    paths = []
    for i, name in enumerate((None, "the <b>second</b> one")):
        path = tmp_path / f"r{i}.json"
        body = {"format": FORMAT, "base_model": str(tiny_bert.path), "steps": []}
        if name:
            body["name"] = name
        path.write_text(json.dumps(body))
        paths.append(str(path))
    out = tmp_path / "report.html"
    assert main(["report", *paths, "--out", str(out), "--quick", "--threads", "1"]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert "plotly" in page and "<script src=\"http" not in page  # plotly.js embedded, no CDN
    assert page.count("<tr>") == 3  # header + two recipes
    assert "baseline (no steps)" in page and "the &lt;b&gt;second&lt;/b&gt; one" in page  # escaped


def test_full_disk_while_writing_the_onnx_file_is_one_message(tiny_bert, small_disk):
    with pytest.raises(SlimlibError, match=r"could not write the ONNX file \(No space left on device\)"):
        export(tiny_recipe(tiny_bert), small_disk / "with-onnx", onnx=True, measure=False)


def test_card_without_a_pair_file_says_sts_was_not_measured(tiny_bert, tmp_path):
    card = (export(tiny_recipe(tiny_bert), tmp_path / "out", threads=1) / "README.md").read_text()
    sts_row = next(line for line in card.splitlines() if line.startswith("| STS Spearman x100"))
    assert sts_row.endswith("| no pair file given |"), sts_row
    assert "example.invalid" not in card
