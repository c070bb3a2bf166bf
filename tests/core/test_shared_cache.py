"""The cache backend (project/cache.py): Django's Redis cache, with one redis-py client per process
instead of one built per call and a connection pool per thread (issue 22)."""

import threading
from typing import Any

import pytest
import redis
from django.core.cache import cache, caches


def test_every_call_and_every_thread_share_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    real_init = redis.Redis.__init__

    def counting_init(self: redis.Redis, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        real_init(self, *args, **kwargs)

    cache.set("shared-cache:warm", 1)  # the process's client exists from here on
    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    seen: list[object] = []

    def work(n: int) -> None:
        backend = caches["default"]  # thread-local: each thread has its own backend object
        for i in range(20):
            backend.set(f"shared-cache:{n}:{i}", i, 30)
            assert backend.get(f"shared-cache:{n}:{i}") == i
        backend.delete(f"shared-cache:{n}:0")
        assert backend.get(f"shared-cache:{n}:0") is None
        seen.append(backend._cache.get_client(write=True))  # type: ignore[attr-defined]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 4
    assert len({id(client) for client in seen}) == 1
    assert built == []  # 4 threads x 41 commands, and not one new redis.Redis


def test_timeouts_and_semantics_are_djangos() -> None:
    assert cache.add("shared-cache:once", "a", 30) is True
    assert cache.add("shared-cache:once", "b", 30) is False
    assert cache.get("shared-cache:once") == "a"
    cache.delete("shared-cache:count")
    cache.add("shared-cache:count", 0, 30)
    assert cache.incr("shared-cache:count") == 1
    values = {"shared-cache:x": {"k": [1, 2]}, "shared-cache:y": "文本"}
    cache.set_many(values, 30)
    assert cache.get_many(list(values)) == values
    cache.set("shared-cache:short", 1, timeout=1)
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    assert 0 < client.pttl(cache.make_and_validate_key("shared-cache:short")) <= 1000
