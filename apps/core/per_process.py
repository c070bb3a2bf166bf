"""One object per process, built on first use and built again in a forked child.

Threads, event loops and sockets do not survive fork (Celery's prefork pool, gunicorn), so a
process-wide helper that owns one must notice a new pid and start over.
"""

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        pid = os.getpid()
        if self._value is None or self._pid != pid:
            with self._lock:
                if self._value is None or self._pid != pid:
                    self._value = self._factory()
                    self._pid = pid
        return self._value
