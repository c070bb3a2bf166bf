"""SHA-256 of large files, in chunks, with an optional progress bar: the model files `make install`
assembles or exports (apps/llm/embedded_model.py, apps/moderation/onnx_model.py) are checked with it.
Standard library only (tqdm if installed): the install steps run before Django is configured."""

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 8 << 20


@contextmanager
def progress(total: int, label: str | None) -> Iterator[Callable[[int], object]]:
    """``advance(n)`` for a bar of ``total`` bytes labelled ``label``; silent when ``label`` is None."""
    if label is None:
        yield lambda n: None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        print(f"{label} ({total / 1e9:.2f} GB)…", file=sys.stderr)
        yield lambda n: None
        return
    with tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024, mininterval=0.5) as bar:
        yield bar.update


def sha256_file(path: Path, *, label: str | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle, progress(path.stat().st_size, label) as advance:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            advance(len(chunk))
    return digest.hexdigest()
