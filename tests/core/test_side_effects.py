"""Websocket nudges from sync code: one publisher loop per process, and a fresh one in a forked child.

Real Redis (the test channel-layer database); nothing here replaces the publisher or the layer.
"""

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.core import side_effects
from tests.support.forking import in_forked_child


@pytest.fixture
def listener() -> Iterator[tuple[str, str]]:
    """A group with one channel in it; the test reads what reaches that channel."""
    layer = get_channel_layer()
    group, channel = f"test-nudges-{uuid.uuid4().hex}", f"test.nudges.{uuid.uuid4().hex}"
    async_to_sync(layer.group_add)(group, channel)
    yield group, channel
    async_to_sync(layer.group_discard)(group, channel)


def _received(channel: str) -> dict[str, Any]:
    async def _receive() -> dict[str, Any]:
        return await asyncio.wait_for(get_channel_layer().receive(channel), timeout=5)

    return async_to_sync(_receive)()


def _publish(group: str, event: dict[str, Any]) -> None:
    future = side_effects.publish(group, event)
    assert future is not None
    future.result(timeout=5)


def test_every_publish_of_a_process_goes_through_one_loop_and_reaches_the_layer(listener: tuple[str, str]) -> None:
    group, channel = listener

    _publish(group, {"type": "nudge", "n": 1})
    publisher = side_effects._publisher.get()
    _publish(group, {"type": "nudge", "n": 2})

    assert side_effects._publisher.get() is publisher
    assert publisher.thread.is_alive()
    assert [_received(channel)["n"], _received(channel)["n"]] == [1, 2]


def test_a_forked_child_publishes_on_a_loop_and_thread_of_its_own(listener: tuple[str, str]) -> None:
    group, channel = listener
    _publish(group, {"type": "nudge", "by": "parent"})  # the parent's loop is running before the fork
    assert _received(channel)["by"] == "parent"
    parent = side_effects._publisher.get()

    def child() -> dict[str, Any]:
        # The inherited loop object is still there and not closed, but no thread runs it any more.
        inherited_thread_alive = parent.thread.is_alive()
        _publish(group, {"type": "nudge", "by": "child", "pid": os.getpid()})
        own = side_effects._publisher.get()
        return {
            "pid": os.getpid(),
            "inherited_thread_alive": inherited_thread_alive,
            "own_publisher": own is not parent and own.loop is not parent.loop,
            "own_thread_alive": own.thread.is_alive(),
            "same_publisher_next_time": side_effects._publisher.get() is own,
        }

    seen = in_forked_child(child)

    assert seen["pid"] != os.getpid()
    assert seen["inherited_thread_alive"] is False
    assert seen["own_publisher"]
    assert seen["own_thread_alive"]
    assert seen["same_publisher_next_time"]
    assert _received(channel) == {"type": "nudge", "by": "child", "pid": seen["pid"]}
    # The parent's publisher is untouched by the child's.
    _publish(group, {"type": "nudge", "by": "parent again"})
    assert side_effects._publisher.get() is parent
    assert _received(channel)["by"] == "parent again"
