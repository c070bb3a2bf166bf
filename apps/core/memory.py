"""Where a process's memory is: what it tells apart is a leak from memory the allocator holds but is not using.

RSS alone cannot say. A worker's RSS that creeps up for an hour may be objects nobody frees (a leak),
or glibc's malloc keeping freed memory in one of its per-thread arenas (up to 8 per core) for the next
allocation there: a threads pool of 256, where whichever thread happens to lead a batch of the sentence
encoder allocates its tensors, touches each arena's high-water mark in turn, and each new batch size
leaves pages the next sizes cannot reuse. ``configure`` caps the arenas when Django starts;
``trim_due`` (the encoder calls it after a batch) gives the free pages back to the system.

Measured at scrape time (``MemoryCollector``):
- ``desk_malloc_bytes{state="in_use"}``: what malloc has handed out and not had back (glibc's mallinfo2,
  every arena, mmapped chunks included): numpy arrays, onnxruntime's tensors, the tokenizers', C strings;
- ``desk_malloc_bytes{state="free"}``: freed, but kept in malloc's free lists for reuse: resident where
  its pages were touched, until ``trim`` gives them back (then only address space);
- ``desk_python_allocated_blocks``: live Python objects' blocks (pymalloc and larger ones alike);
- ``desk_process_threads``: threads of the process (each has a stack and, in glibc, may get an arena);
- ``desk_malloc_arenas``: the arenas malloc has made, at most DESK_MALLOC_ARENAS (``configure``).
A leak shows as in_use or Python blocks growing with the messages handled; held memory as "free".
mallinfo2 is glibc's (2.33+); elsewhere only the Python and thread figures are reported.
"""

import ctypes
import ctypes.util
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _MallInfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (malloc.h), every field a size_t.
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",  # bytes in arenas (sbrk'd main arena and the mmapped heaps of the others)
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",  # bytes in chunks mmapped on their own (large allocations): in use until freed
            "usmblks",
            "fsmblks",
            "uordblks",  # bytes in use in the arenas
            "fordblks",  # bytes free in the arenas: kept for reuse, part of RSS where touched
            "keepcost",
        )
    ]


@dataclass(frozen=True)
class MallocStats:
    in_use: int
    free: int


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


@cache
def _c_function(name: str, restype: object, *argtypes: object) -> "ctypes._NamedFuncPointer | None":
    """The C library's function, declared once per process; None where the library lacks it (not glibc,
    or a glibc older than 2.33 for mallinfo2)."""
    libc = _libc()
    function = getattr(libc, name, None) if libc is not None else None
    if function is not None:
        function.restype = restype
        function.argtypes = list(argtypes)
    return function


def malloc_stats() -> MallocStats | None:
    """glibc's figures summed over every arena; None where the C library has no mallinfo2.

    mallinfo2 locks each arena in turn while it walks its free lists: a scrape's cost (well under a
    millisecond at these sizes), not something to call per message."""
    function = _c_function("mallinfo2", _MallInfo2)
    if function is None:
        return None
    info = function()
    return MallocStats(in_use=info.uordblks + info.hblkhd, free=info.fordblks)


_M_ARENA_MAX = -8  # glibc's malloc.h


def configure(arenas: int) -> bool:
    """Cap glibc's malloc arenas for the rest of the process (mallopt M_ARENA_MAX); 0 leaves glibc's own
    default. Called once the settings are loaded, before the worker's pool or the web's threads exist:
    an arena already made is kept, and glibc fixes its limit for good once a ninth arena is needed
    (arena.c, ``narenas_limit``), so a later call would change nothing. False where there is no glibc
    mallopt or it refused."""
    mallopt = _c_function("mallopt", ctypes.c_int, ctypes.c_int, ctypes.c_int) if arenas > 0 else None
    return bool(mallopt(_M_ARENA_MAX, arenas)) if mallopt is not None else False


def trim() -> bool:
    """Give the free pages of every arena back to the system (glibc's malloc_trim(0)); what stays free is
    still counted in ``desk_malloc_bytes{state="free"}`` but no longer resident. The sentence encoder's
    tensors come and go by the megabyte with each batch's size: without this, every size a batch has had
    leaves its pages resident (a 128-thread encoder run grew to 800 MB held free, arenas capped or not).
    False where unavailable or nothing was released."""
    function = _c_function("malloc_trim", ctypes.c_int, ctypes.c_size_t)
    return bool(function(0)) if function is not None else False


TRIM_INTERVAL_S = 1.0
_last_trim = [0.0]
_trim_lock = threading.Lock()


def trim_due() -> bool:
    """``trim``, at most once every TRIM_INTERVAL_S in the process, from whichever thread calls first.
    Under load the encoder runs several batches a second; trimming after each cost 10 % more encoder CPU
    (bench/encoder_memory.py), and one trim a second leaves at most a second's batches resident."""
    now = time.monotonic()
    with _trim_lock:
        if now - _last_trim[0] < TRIM_INTERVAL_S:
            return False
        _last_trim[0] = now
    return trim()


def arena_count() -> int:
    """How many arenas malloc has made (glibc's malloc_info report); 0 where unavailable."""
    void_p = ctypes.c_void_p
    open_memstream = _c_function("open_memstream", void_p, ctypes.POINTER(void_p), ctypes.POINTER(ctypes.c_size_t))
    malloc_info = _c_function("malloc_info", ctypes.c_int, ctypes.c_int, void_p)
    fclose = _c_function("fclose", ctypes.c_int, void_p)
    free = _c_function("free", None, void_p)
    if open_memstream is None or malloc_info is None or fclose is None or free is None:
        return 0
    buffer, size = void_p(), ctypes.c_size_t()
    stream = open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    if not stream:
        return 0
    try:
        malloc_info(0, stream)
    finally:
        fclose(stream)  # flushes: buffer and size are set from here on
    try:
        report = ctypes.string_at(buffer.value, size.value) if buffer.value else b""
    finally:
        free(buffer)
    return report.count(b"<heap nr=")


def rss_bytes() -> int:
    """This process's resident set, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def thread_count() -> int:
    """Every thread of the process, native ones too (onnxruntime's, the tokenizers'), not only Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class MemoryCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = malloc_stats()
        family = GaugeMetricFamily(
            "desk_malloc_bytes",
            "C heap of this process (glibc mallinfo2, all arenas): in use, and freed but kept in malloc's free "
            "lists (resident until trimmed).",
            labels=["state"],
        )
        if stats is not None:
            family.add_metric(["in_use"], stats.in_use)
            family.add_metric(["free"], stats.free)
        yield family
        arenas = arena_count()
        if arenas:
            yield GaugeMetricFamily(
                "desk_malloc_arenas", "malloc arenas of this process (DESK_MALLOC_ARENAS caps them).", value=arenas
            )
        yield GaugeMetricFamily(
            "desk_python_allocated_blocks", "Memory blocks held by live Python objects.", value=sys.getallocatedblocks()
        )
        yield GaugeMetricFamily("desk_process_threads", "Threads of this process.", value=thread_count())
