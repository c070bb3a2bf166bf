"""The Wechaty SDK (python-wechaty 0.10.7), imported the one way that works on Python 3.11.

- ``WechatyOptions`` has a dataclass default ``puppet_options = PuppetOptions()``; Python 3.11
  refuses unhashable (eq=True, no __hash__) dataclass defaults, so importing ``wechaty`` raises
  ValueError. Giving ``PuppetOptions`` identity hashing before the import is enough; the
  bridge always passes its own PuppetOptions, so the shared default is never mutated.
- ``wechaty_puppet.config`` creates ``./.wechaty`` at import time; the import runs inside the
  bridge's state directory so the working tree (read-only in the image) stays untouched.
- pyee<9 and urllib3<2 are pinned in requirements-bridge.txt (AsyncIOEventEmitter and
  urllib3's get_host are gone from the newer majors).
"""

import logging
import os
import socket
from typing import Any


def load(state_dir: str) -> Any:
    """Import and return the ``wechaty`` module (also sets CACHE_DIR for its plugin cache)."""
    os.makedirs(state_dir, exist_ok=True)
    os.environ.setdefault("CACHE_DIR", os.path.join(state_dir, ".wechaty"))
    previous = os.getcwd()
    os.chdir(state_dir)
    try:
        from wechaty_puppet.schemas.puppet import PuppetOptions

        if PuppetOptions.__hash__ is None:
            PuppetOptions.__hash__ = object.__hash__
        import wechaty
        import wechaty_puppet_service  # noqa: F401 - the SDK imports it lazily, resetting its logger
    finally:
        os.chdir(previous)
    return wechaty


def free_port() -> int:
    # The SDK refuses to start if its default port 5000 is taken: give it one that is free.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TokenRedactor(logging.Filter):
    """The SDK logs the puppet token when both token and endpoint are set; keep it out of logs."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret:
            record.msg = record.getMessage().replace(self.secret, "***")
            record.args = ()
        return True
