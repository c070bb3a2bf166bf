"""Where a process's memory is (apps/core/memory.py): the C heap in use and held free, Python's blocks,
the threads. Each figure must move when what it names moves, or it cannot tell a leak from held memory."""

import ctypes
import ctypes.util
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from apps.core import memory

REPO = Path(__file__).resolve().parents[2]


def _malloc(state: str) -> float:
    # From the desk's collector alone: a scrape of the whole registry runs the other collectors first,
    # whose short-lived allocations (about 1 MB) would blur a before/after difference.
    family = next(f for f in memory.MemoryCollector().collect() if f.name == "desk_malloc_bytes")
    values = [sample.value for sample in family.samples if sample.labels == {"state": state}]
    assert values, "glibc's mallinfo2 is on this machine (Debian 12, glibc 2.36)"
    return values[0]


def test_the_registry_serves_the_c_heap_figures() -> None:
    for state in ("in_use", "free"):
        value = REGISTRY.get_sample_value("desk_malloc_bytes", {"state": state})
        assert value is not None
        assert value >= 0
    assert (REGISTRY.get_sample_value("desk_malloc_bytes", {"state": "in_use"}) or 0) > 1_000_000


def _libc() -> ctypes.CDLL:
    """The C library with malloc, free and memset declared, to allocate what Python would not."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    return libc


def test_c_heap_in_use_follows_what_is_allocated_and_freed() -> None:
    libc = _libc()
    before = _malloc("in_use")
    # Many small chunks (not one large one, which malloc would mmap on its own): they stay in the arena.
    chunks = [libc.malloc(4096) for _ in range(10_000)]
    held = _malloc("in_use")
    for chunk in chunks:
        libc.free(chunk)
    after = _malloc("in_use")

    assert held - before >= 10_000 * 4096
    assert held - after >= 10_000 * 4096 * 0.9
    assert _malloc("free") >= 0


def test_a_large_array_counts_as_in_use_until_freed() -> None:
    before = _malloc("in_use")
    array = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB: mmapped by malloc on its own, hblkhd in mallinfo2
    during = _malloc("in_use")
    del array

    assert during - before >= 60 * 1024 * 1024  # the rest of the process allocates and frees meanwhile
    assert _malloc("in_use") < during - 60 * 1024 * 1024


def test_python_blocks_count_live_objects() -> None:
    before = REGISTRY.get_sample_value("desk_python_allocated_blocks")
    kept = [object() for _ in range(50_000)]
    after = REGISTRY.get_sample_value("desk_python_allocated_blocks")

    assert before is not None
    assert after is not None
    assert after - before >= 49_000
    assert len(kept) == 50_000


def test_threads_counts_every_thread_of_the_process() -> None:
    before = REGISTRY.get_sample_value("desk_process_threads")
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(5)]
    for thread in threads:
        thread.start()
    try:
        during = REGISTRY.get_sample_value("desk_process_threads")
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert before is not None
    assert during is not None
    assert during - before == 5
    assert memory.thread_count() >= threading.active_count()


_THREADS_ALLOCATE = """
import sys, threading
import django
django.setup()
from apps.core import memory
barrier = threading.Barrier(16)
def work():
    barrier.wait()  # all alive at once: each new thread's first malloc gets an arena of its own, up to the cap
    held = [bytearray(5000) for _ in range(2000)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(memory.arena_count())
"""


def _arenas_after_16_threads(setting: str) -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.local", "DESK_MALLOC_ARENAS": setting}
    env.pop("MALLOC_ARENA_MAX", None)
    result = subprocess.run(
        [sys.executable, "-c", _THREADS_ALLOCATE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip().splitlines()[-1])


def test_the_desk_caps_malloc_arenas_when_django_starts() -> None:
    # The setting's default, 2: sixteen threads allocating at once share two arenas.
    assert _arenas_after_16_threads("2") == 2


def test_zero_leaves_glibc_its_own_arenas() -> None:
    # glibc's default is 8 per core: on a 2-core box up to 16, one per thread here.
    assert _arenas_after_16_threads("0") > 2


def test_the_arenas_are_a_metric() -> None:
    value = REGISTRY.get_sample_value("desk_malloc_arenas")
    assert value is not None
    assert value == memory.arena_count() >= 1


def test_trim_gives_freed_arena_pages_back_to_the_system() -> None:
    libc = _libc()
    # 100 MB in 64 KiB chunks (under the mmap threshold: they live in the arena), touched, then freed
    # all but the last, which pins the arena's top so glibc's own trimming at free cannot release them.
    chunks = [libc.malloc(65536) for _ in range(1600)]
    for chunk in chunks:
        libc.memset(chunk, 1, 65536)
    for chunk in chunks[:-1]:
        libc.free(chunk)
    held = memory.rss_bytes()

    assert memory.trim()
    assert held - memory.rss_bytes() >= 80_000_000
    libc.free(chunks[-1])


def test_trim_due_runs_at_most_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def trim() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(memory, "trim", trim)
    monkeypatch.setattr(memory, "_last_trim", [0.0])

    assert memory.trim_due()
    assert not memory.trim_due()
    memory._last_trim[0] -= memory.TRIM_INTERVAL_S
    assert memory.trim_due()
    assert len(calls) == 2
