"""The desk's side of the bridge: replies go into the outbox stream once, split to fit."""

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings

from apps.conversations.channels import OutboundMedia, OutboundText, TransientDeliveryError
from apps.wechat.adapters.wechaty import WechatyAdapter
from workers.wechaty_bridge.protocol import OutboxEntry, OutboxMedia, heartbeat_key, outbox_key, outbox_media_key


@pytest.fixture
def bridge_redis(settings: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    settings.WECHATY_BRIDGE_NAME = "adapter-test"  # type: ignore[attr-defined]
    client: redis.Redis = redis.Redis.from_url(settings.WECHATY_REDIS_URL)  # type: ignore[attr-defined]
    for key in client.scan_iter("wechaty:adapter-test:*"):
        client.delete(key)
    client.set(heartbeat_key("adapter-test"), "{}", ex=60)
    yield client
    for key in client.scan_iter("wechaty:adapter-test:*"):
        client.delete(key)


def outbound(text: str, message_id: int = 41) -> OutboundText:
    return OutboundText(
        message_id=message_id, conversation_id=1, channel="wechaty", customer_external_id="wxid_alice", text=text
    )


def queued(client: redis.Redis) -> list[OutboxEntry]:
    entries: Any = client.xrange(outbox_key("adapter-test"))
    return [OutboxEntry.loads(fields[b"entry"]) for _, fields in entries]


def test_it_queues_a_reply_once_however_often_delivery_runs(bridge_redis: redis.Redis) -> None:
    adapter = WechatyAdapter()
    adapter.send(outbound("您好，已为您查询。"))
    adapter.send(outbound("您好，已为您查询。"))
    assert queued(bridge_redis) == [OutboxEntry(message_id=41, to="wxid_alice", segments=["您好，已为您查询。"])]


def test_it_queues_a_file_once_with_its_bytes_beside_the_stream(bridge_redis: redis.Redis) -> None:
    image = OutboundMedia(
        message_id=42,
        conversation_id=1,
        channel="wechaty",
        customer_external_id="wxid_alice",
        kind="image",
        attachment_id=5,
        content_type="image/png",
        filename="退货地址.png",
        data=b"\x89PNG\r\n\x1a\n...",
    )
    adapter = WechatyAdapter()
    adapter.send(image)
    adapter.send(image)
    assert queued(bridge_redis) == [
        OutboxEntry(
            message_id=42, to="wxid_alice", segments=[], media=OutboxMedia("image", "退货地址.png", "image/png")
        )
    ]
    assert bridge_redis.get(outbox_media_key("adapter-test", 42)) == image.data
    assert 0 < bridge_redis.ttl(outbox_media_key("adapter-test", 42)) <= settings.WECHATY_QUEUED_TTL_SECONDS
    # What the channel can send; a voice note goes out as a file (media/send.py falls back).
    assert WechatyAdapter.media_kinds == {"image", "video", "file"}


def test_it_splits_a_long_reply_on_sentence_boundaries(
    bridge_redis: redis.Redis, settings: pytest.FixtureRequest
) -> None:
    settings.WECHATY_TEXT_MAX_BYTES = 60  # type: ignore[attr-defined]
    sentences = ["第一句话说明退货流程。", "第二句话说明运费。", "第三句话说明时效！"]
    WechatyAdapter().send(outbound("".join(sentences)))
    (entry,) = queued(bridge_redis)
    assert "".join(entry.segments) == "".join(sentences)
    assert all(len(s.encode()) <= 60 for s in entry.segments)
    assert all(s.endswith(("。", "！")) for s in entry.segments)
    assert len(entry.segments) == 2


def test_it_refuses_while_no_bridge_is_running(bridge_redis: redis.Redis) -> None:
    bridge_redis.delete(heartbeat_key("adapter-test"))
    with pytest.raises(TransientDeliveryError, match="not running"):
        WechatyAdapter().send(outbound("在吗"))
    assert queued(bridge_redis) == []
    # Refused, not marked: once the bridge is back the retry queues it.
    bridge_redis.set(heartbeat_key("adapter-test"), "{}", ex=60)
    WechatyAdapter().send(outbound("在吗"))
    assert len(queued(bridge_redis)) == 1


def test_the_bridge_name_and_redis_url_are_settings() -> None:
    assert settings.DESK_CHANNEL_ADAPTERS["wechaty"] == "apps.wechat.adapters.wechaty.WechatyAdapter"
    assert settings.WECHATY_REDIS_URL.startswith(settings.REDIS_URL)
