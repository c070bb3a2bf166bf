"""Order questions answered from the shop (a fake shop in its own process, signatures checked),
through the whole spine: receive -> shop step -> reply, or a hand-over when the shop fails."""

import logging
from typing import Any

import pytest
from django.conf import settings

from apps.connectors.models import Connector, Lookup
from apps.conversations.models import Conversation, Message
from peers.fake_shop import FakeShopProcess
from tests.connectors.conftest import bind
from tests.factories import receive

pytestmark = pytest.mark.usefixtures("eager_tasks")
ME = "simulator:cust-0001"


def reply_to(received: Any) -> Message | None:
    return Message.objects.filter(reply_to=received.message).first()


def test_it_answers_a_logistics_question_by_order_number_from_the_shop(
    connector: Connector, shop: FakeShopProcess
) -> None:
    bind(shop, "E20261127101", ME)

    received = receive("我的订单 E20261127101 到哪了？")

    reply = reply_to(received)
    assert reply is not None
    assert reply.author_kind == Message.AuthorKind.BOT
    assert "已发货" in reply.body
    assert "SF1402938475610" in reply.body
    assert "顺丰速运" in reply.body
    assert "上海浦东集散中心" in reply.body  # the latest event, not the first
    assert "11月29日" in reply.body
    assert reply.answer_meta["source"] == "connector"
    rows = list(Lookup.objects.order_by("pk").values_list("operation", "order_no", "result", "customer__external_id"))
    assert rows == [("order", "E20261127101", "found", "cust-0001"), ("trail", "E20261127101", "found", "cust-0001")]


def test_it_finds_the_customers_latest_order_when_they_give_no_number(
    connector: Connector, shop: FakeShopProcess
) -> None:
    bind(shop, "E20261127102", "simulator:cust-0102", created_at="2026-11-20 09:00", status="已签收")
    bind(shop, "E20261127103", "simulator:cust-0102", created_at="2026-11-26 09:00", status="待发货")

    received = receive("我买的东西发货了吗", user="cust-0102")

    reply = reply_to(received)
    assert reply is not None
    assert "E20261127103" in reply.body
    assert "待发货" in reply.body
    assert Lookup.objects.filter(operation="orders", result="found").count() == 1


def test_it_refuses_someone_elses_order_without_telling_its_status(connector: Connector, shop: FakeShopProcess) -> None:
    bind(shop, "E20261127104", "simulator:somebody-else", status="已签收")

    received = receive("订单 E20261127104 到哪了")

    reply = reply_to(received)
    assert reply is not None
    assert "已签收" not in reply.body
    assert "SF1402938475610" not in reply.body
    assert "没有找到您账号下的订单" in reply.body
    assert Lookup.objects.get(operation="order").result == Lookup.Result.REFUSED
    assert not Lookup.objects.filter(operation="trail").exists()  # nothing more is asked about it


def test_the_phone_numbers_last_four_digits_prove_an_order(connector: Connector, shop: FakeShopProcess) -> None:
    bind(shop, "E20261127105", "simulator:my-spouse")

    received = receive("订单 E20261127105 尾号8899 到哪了")

    reply = reply_to(received)
    assert reply is not None
    assert "SF1402938475610" in reply.body


def test_a_question_that_is_not_about_orders_goes_to_the_answerer(connector: Connector, shop: FakeShopProcess) -> None:
    received = receive("你们几点上班")

    reply = reply_to(received)
    assert reply is not None
    assert reply.answer_meta.get("source") != "connector"
    assert not Lookup.objects.exists()


@pytest.mark.parametrize(
    ("mode", "latency_ms", "kind"), [("down", 0, "down"), ("slow", 2000, "timeout"), ("malformed", 0, "malformed")]
)
def test_a_failing_shop_hands_over_and_the_customer_is_told_once(
    connector: Connector, shop: FakeShopProcess, mode: str, latency_ms: int, kind: str
) -> None:
    shop.control("mode", {"mode": mode, "latency_ms": latency_ms})

    first = receive("订单 E20261127106 到哪了")
    second = receive("订单 E20261127106 怎么还没到")

    for received in (first, second):
        message = Message.objects.get(pk=received.message.pk)
        assert message.status == Message.Status.HANDED_OVER  # never an invented status
    replies = [m.body for m in Message.objects.filter(direction="out")]  # bodies are encrypted: compare here
    assert replies.count(settings.DESK_CONNECTOR_HUMAN_NOTICE) == 1  # (routing acknowledges the second one)
    assert Conversation.objects.get().mode == Conversation.Mode.QUEUED
    failed = Lookup.objects.get(result="failed")  # the second message is the human's already
    assert failed.detail.startswith(kind)
    assert failed.order_no == "E20261127106"


def test_a_forged_signature_is_refused_by_the_shop_and_handed_over(connector: Connector, shop: FakeShopProcess) -> None:
    before = shop.stats()["bad_signature"]
    connector.secret = "not-the-shops-secret"
    connector.save(update_fields=["secret"])

    received = receive("订单 E20261127101 到哪了")

    assert shop.stats()["bad_signature"] == before + 1
    assert Message.objects.get(pk=received.message.pk).status == Message.Status.HANDED_OVER
    assert Lookup.objects.get().detail.startswith("refused")


def test_look_ups_are_rate_limited_per_customer(connector: Connector, shop: FakeShopProcess, settings: Any) -> None:
    settings.DESK_CONNECTOR_RATE_BURST = 2
    settings.DESK_CONNECTOR_RATE_PER_MINUTE = 0.01
    bind(shop, "E20261127107", ME)

    replies = [reply_to(receive("订单 E20261127107 状态")) for _ in range(3)]
    other = reply_to(receive("订单 E20261127107 状态", user="cust-0999"))

    assert [r.body == settings.DESK_CONNECTOR_RATE_LIMITED_TEXT for r in replies if r] == [False, False, True]
    assert other is not None
    assert other.body != settings.DESK_CONNECTOR_RATE_LIMITED_TEXT
    assert Lookup.objects.filter(result="rate_limited").count() == 1


def test_logs_mask_order_numbers_and_the_audit_keeps_them(
    connector: Connector, shop: FakeShopProcess, caplog: pytest.LogCaptureFixture
) -> None:
    bind(shop, "E20261127108", ME)
    caplog.set_level(logging.INFO, logger="apps.connectors")

    receive("订单 E20261127108 尾号8899 到哪了")

    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert "E202*****108" in logged
    assert "E20261127108" not in logged
    assert "8899" not in logged
    assert Lookup.objects.filter(order_no="E20261127108").count() == 2
