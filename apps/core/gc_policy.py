"""Garbage collection in the desk's long-running processes: the Celery workers and the ASGI web process.

CPython's full (generation 2) collection walks every container the process holds, with the GIL held.
An llm worker holds the moderation tables, the pinyin table, the knowledge index and Django's and
Celery's machinery: under load one full collection stood every thread of the process still, so every
answer in flight, for 90-200 ms (bench/load.py at 40 msg/s: 4 of them in a minute, each pushing a
dozen replies into the P99).

What start-up and the first answers build lives as long as the process. ``gc.freeze()`` moves it to
the permanent generation, so later full collections walk only what came after. The process freezes
when it is ready and again after a minute and after ten, when the lazily loaded models (sentence
encoder, rules, knowledge index) are in memory. Frozen objects are still freed by reference counting;
only a frozen object that later becomes part of a garbage cycle is never collected, which start-up
structures do not do (a rules reload replaces whole tables, freed by their reference counts).
"""

import gc
import logging
import threading
import time

from django.conf import settings

from apps.core import metrics

logger = logging.getLogger(__name__)

_scheduled = False
_lock = threading.Lock()
_full_started = [0.0]  # collections run one at a time in a process (the GIL), so one slot is enough


def settle(reason: str) -> int:
    """Collect once, then freeze everything that survived. Returns how many objects are frozen."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    metrics.gc_frozen(frozen)
    logger.info(
        "gc: %d objects frozen (%s), collect and freeze took %.0f ms",
        frozen,
        reason,
        (time.perf_counter() - started) * 1000,
    )
    return frozen


def schedule() -> bool:
    """Time full collections, then freeze now and after each of DESK_GC_FREEZE_AFTER_S; once per process.

    False when this process had scheduled already or freezing is off (the collections are timed either
    way, so the metric shows what freezing saves).
    """
    global _scheduled
    delays: list[float] = settings.DESK_GC_FREEZE_AFTER_S
    with _lock:
        if _scheduled:
            return False
        _scheduled = True
    gc.callbacks.append(_time_full_collections)
    if not settings.DESK_GC_FREEZE:
        return False
    settle("ready")
    for delay in delays:
        timer = threading.Timer(delay, settle, args=(f"{delay:g} s after ready",))
        timer.daemon = True
        timer.name = "gc-freeze"
        timer.start()
    return True


def _time_full_collections(phase: str, info: dict[str, int]) -> None:
    if info["generation"] != 2:  # the young generations run thousands of times a minute, in microseconds
        return
    if phase == "start":
        _full_started[0] = time.perf_counter()
    else:
        metrics.gc_full_collection(time.perf_counter() - _full_started[0])


def celery_signals_connect() -> None:
    from celery import signals

    signals.worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid="desk-gc-freeze")


def _on_worker_ready(**_: object) -> None:
    schedule()
