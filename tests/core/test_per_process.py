"""PerProcess: one object per process, built on first use, built again in a forked child."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from apps.core.per_process import PerProcess
from tests.support.forking import in_forked_child


class _Thing:
    built = 0
    _lock = threading.Lock()

    def __init__(self) -> None:
        with self._lock:
            type(self).built += 1
        self.pid = os.getpid()


def test_threads_of_one_process_share_one_object_built_once() -> None:
    _Thing.built = 0
    holder = PerProcess(_Thing)

    with ThreadPoolExecutor(max_workers=16) as pool:
        seen = list(pool.map(lambda _: holder.get(), range(64)))

    assert _Thing.built == 1
    assert all(thing is seen[0] for thing in seen)


def test_a_forked_child_builds_its_own_object_and_keeps_it() -> None:
    holder = PerProcess(_Thing)
    parent = holder.get()

    def child() -> dict[str, object]:
        own = holder.get()
        return {"fresh": own is not parent, "pid_matches": own.pid == os.getpid(), "kept": holder.get() is own}

    assert in_forked_child(child) == {"fresh": True, "pid_matches": True, "kept": True}
    assert holder.get() is parent
