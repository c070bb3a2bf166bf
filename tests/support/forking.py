"""Run a function in a child made with os.fork(), as Celery's prefork pool and gunicorn make theirs."""

import json
import os
import traceback
from collections.abc import Callable
from typing import Any


def in_forked_child(fn: Callable[[], Any]) -> Any:
    """Return what ``fn`` returns (JSON-serialisable) in a forked child; raise if it raised.

    The child leaves with os._exit, so it never runs the parent's atexit hooks or pytest's teardown;
    ``fn`` bounds its own waits (a hung child would hang the test until pytest-timeout).
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_fd)
            try:
                payload = {"ok": True, "value": fn()}
                code = 0
            except BaseException:
                payload = {"ok": False, "error": traceback.format_exc()}
            with os.fdopen(write_fd, "w") as out:
                json.dump(payload, out)
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        raw = pipe.read()  # EOF when the child exits, however it exits
    _, status = os.waitpid(pid, 0)
    if not raw:
        raise AssertionError(f"the forked child died without a result (wait status {status})")
    result = json.loads(raw)
    if not result["ok"]:
        raise AssertionError(f"the forked child raised:\n{result['error']}")
    return result["value"]
