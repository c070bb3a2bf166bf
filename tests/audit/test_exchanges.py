"""Every exchange is audited with the caller's address; bodies are ciphertext in SQL;
a flooding customer is limited and told once."""

import json

import pytest
from django.db import connection
from django.test import Client

from apps.audit.models import AuditLog
from apps.audit.selectors import audit_chain_verify
from apps.conversations.models import Message

pytestmark = pytest.mark.usefixtures("eager_tasks")

URL = "/api/inbound/messages"
AUTH = {"Authorization": "Bearer test-inbound-token"}


def post(client: Client, n: int, text: str = "我的手机号是13812345678，订单到哪了？", user: str = "cust-audit") -> int:
    payload = {
        "channel": "simulator",
        "channel_message_id": f"audit-{user}-{n}",
        "external_user_id": user,
        "text": text,
    }
    response = client.post(
        URL, json.dumps(payload), content_type="application/json", headers=AUTH, REMOTE_ADDR="203.0.113.9"
    )
    return response.status_code


def test_raw_sql_on_messages_finds_no_plaintext(client: Client) -> None:
    assert post(client, 1) == 202

    with connection.cursor() as cursor:
        cursor.execute("SELECT body, reasoning FROM conversations_message")
        rows = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM conversations_message WHERE body LIKE %s", ["%订单%"])
        (plain_hits,) = cursor.fetchone()

    assert len(rows) == 2
    assert plain_hits == 0
    assert all(body.startswith("v1:test:") for body, _ in rows)
    assert Message.objects.get(direction="in").body == "我的手机号是13812345678，订单到哪了？"


def test_an_exchange_is_audited_with_query_response_model_and_client_ip(client: Client) -> None:
    post(client, 1)

    (row,) = AuditLog.objects.filter(kind=AuditLog.Kind.EXCHANGE)
    reply = Message.objects.get(direction="out")
    assert row.event == "bot.answer"
    assert row.customer_ref == "simulator:cust-audit"
    assert row.query == "我的手机号是13812345678，订单到哪了？"
    assert row.response == reply.body
    assert row.client_ip == "203.0.113.9"
    assert row.details["reply_id"] == reply.pk
    assert row.details["verdict_in"]["action"] == "allow"
    assert row.details["verdict_out"]["action"] == "allow"
    assert audit_chain_verify().broken is None


def test_a_burst_is_limited_stored_in_full_and_the_customer_is_told_once(client: Client, settings: object) -> None:
    settings.DESK_INBOUND_RATE_BURST = 3  # type: ignore[attr-defined]
    settings.DESK_INBOUND_RATE_PER_MINUTE = 1  # type: ignore[attr-defined]
    from apps.conversations.services import receive

    receive._bucket.cache_clear()
    try:
        statuses = [post(client, n, text=f"第{n}条") for n in range(8)]
    finally:
        receive._bucket.cache_clear()

    inbound = list(Message.objects.filter(direction="in").order_by("id"))
    assert statuses == [202] * 8, "nothing is refused at the door: every message is stored"
    assert [m.status for m in inbound] == ["answered"] * 3 + ["rate_limited"] * 5
    notices = Message.objects.filter(author_kind=Message.AuthorKind.SYSTEM)
    assert notices.count() == 1
    assert notices.get().reply_to == inbound[3]
    assert Message.objects.filter(author_kind=Message.AuthorKind.BOT).count() == 3
    assert AuditLog.objects.filter(event="inbound.rate_limited").count() == 5
    assert post(client, 99, user="another-customer") == 202
    assert Message.objects.get(channel_message_id="audit-another-customer-99").status == "answered"


def test_redeliveries_of_one_message_do_not_spend_the_customers_tokens(client: Client, settings: object) -> None:
    settings.DESK_INBOUND_RATE_BURST = 2  # type: ignore[attr-defined]
    settings.DESK_INBOUND_RATE_PER_MINUTE = 1  # type: ignore[attr-defined]
    from apps.conversations.services import receive

    receive._bucket.cache_clear()
    try:
        for _ in range(5):
            post(client, 1)  # WeChat retries the same message
        post(client, 2)
    finally:
        receive._bucket.cache_clear()

    assert sorted(Message.objects.filter(direction="in").values_list("status", flat=True)) == ["answered", "answered"]
