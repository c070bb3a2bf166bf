"""Tampering with an assembled model file, as the model-file and server tests do."""

import os
from pathlib import Path


def flip_one_byte(path: Path, *, keep_mtime: bool = False) -> None:
    stat = path.stat()
    path.chmod(0o644)  # assembled read-only
    with path.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
