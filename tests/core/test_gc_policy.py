"""Long-running processes freeze what start-up built, so full collections stop walking it (apps/core/gc_policy.py)."""

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from apps.core import gc_policy
from apps.core.metrics_listener import MetricsLifespan
from tests.support.waiting import wait_for


@pytest.fixture
def fresh_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process that has not scheduled yet; whatever a test froze is thawed afterwards."""
    monkeypatch.setattr(gc_policy, "_scheduled", False)
    yield
    gc.unfreeze()
    if gc_policy._time_full_collections in gc.callbacks:
        gc.callbacks.remove(gc_policy._time_full_collections)


def _full_collections() -> float:
    return REGISTRY.get_sample_value("desk_gc_full_collection_seconds_count") or 0.0


def _tracked_ids() -> set[int]:
    return {id(o) for o in gc.get_objects()}  # the generations a collection walks; frozen objects are in none


def test_settle_takes_what_survived_start_up_out_of_the_collected_generations(fresh_policy: None) -> None:
    tables = [{"term": str(i), "action": "block"} for i in range(20_000)]  # start-up's tables: containers
    assert id(tables) in _tracked_ids()

    frozen = gc_policy.settle("test")

    assert frozen == gc.get_freeze_count() >= len(tables)
    tracked = _tracked_ids()
    assert id(tables) not in tracked
    assert not any(id(table) in tracked for table in tables)
    assert REGISTRY.get_sample_value("desk_gc_frozen_objects") == frozen
    later = [{"made": "after the freeze"}]
    assert id(later) in _tracked_ids()  # what comes after is collected as usual


def test_schedule_freezes_at_once_and_after_each_delay_once_per_process(
    fresh_policy: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DESK_GC_FREEZE = True
    settings.DESK_GC_FREEZE_AFTER_S = [0.2, 0.4]
    settled: list[str] = []
    real_settle = gc_policy.settle

    def settle(reason: str) -> int:
        settled.append(reason)
        return real_settle(reason)

    monkeypatch.setattr(gc_policy, "settle", settle)
    before = _full_collections()

    assert gc_policy.schedule() is True
    assert gc_policy.schedule() is False  # the web lifespan and a second signal do not stack timers

    wait_for(lambda: len(settled) == 3, timeout=5, what="the later freezes")
    assert settled == ["ready", "0.2 s after ready", "0.4 s after ready"]
    assert _full_collections() >= before + 3  # each settle is a full collection, and is timed
    assert gc.get_freeze_count() > 0


def test_the_switch_turns_freezing_off_but_not_the_timing(fresh_policy: None, settings: Any) -> None:
    settings.DESK_GC_FREEZE = False
    gc.unfreeze()
    before = _full_collections()

    assert gc_policy.schedule() is False
    gc.collect()

    assert gc.get_freeze_count() == 0
    assert _full_collections() == before + 1  # the baseline a freeze is compared with


@pytest.mark.asyncio
async def test_the_web_server_freezes_when_it_starts(fresh_policy: None, settings: Any) -> None:
    settings.DESK_GC_FREEZE = True
    settings.DESK_GC_FREEZE_AFTER_S = []
    settings.DESK_WEB_METRICS_PORT = 0
    sent: list[str] = []
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: Any) -> None:
        sent.append(message["type"])

    task = asyncio.create_task(MetricsLifespan()({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(task, timeout=10)

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert gc.get_freeze_count() > 0
