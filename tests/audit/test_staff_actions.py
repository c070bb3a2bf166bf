"""Staff actions are audited with the acting user, in the same transaction as the change."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.audit.models import AuditLog
from apps.audit.selectors import audit_chain_verify
from apps.console import services as console
from apps.conversations import services
from apps.core.models import ApiToken
from apps.moderation.models import Term

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss() -> User:
    return User.objects.create_superuser("boss", password="pw-boss-12345")


def events() -> list[tuple[str, int | None]]:
    return list(AuditLog.objects.filter(kind=AuditLog.Kind.STAFF).order_by("id").values_list("event", "actor_id"))


def test_takeover_and_hand_back_are_audited_with_the_agent(boss: User) -> None:
    received = services.message_receive(
        channel="simulator", external_user_id="cust-x1", display_name="", channel_message_id="m1", body="hi"
    )
    conversation_id = received.message.conversation_id

    console.conversation_take_over(conversation_id=conversation_id, agent=boss)
    console.conversation_hand_back(conversation_id=conversation_id, agent=boss)

    assert events() == [("conversation.taken_over", boss.pk), ("conversation.handed_back", boss.pk)]
    assert AuditLog.objects.filter(conversation_id_ref=conversation_id).count() == 2


def test_a_blacklist_edit_in_the_admin_is_audited_without_values(boss: User, client: Client) -> None:
    client.force_login(boss)
    response = client.post(
        "/admin/moderation/term/add/",
        {"text": "加我微信", "kind": "keyword", "category": "fraud", "severity": 3, "action": "block", "enabled": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    term = Term.objects.get()

    (row,) = AuditLog.objects.filter(event="moderation.term.add")
    assert row.actor_id == boss.pk
    assert row.details["object_id"] == term.pk


def test_an_issued_api_token_is_shown_once_and_audited(boss: User, client: Client) -> None:
    client.force_login(boss)
    response = client.post("/admin/core/apitoken/add/", {"name": "bridge", "scopes": ["inbound"]}, follow=True)

    token = ApiToken.objects.get()
    page = response.content.decode()
    assert "dsk_" in page
    assert token.token_hash not in page
    assert events()[-1] == ("core.apitoken.add", boss.pk)


def test_sign_ins_and_failed_attempts_are_audited(boss: User, client: Client) -> None:
    client.post("/admin/login/", {"username": "boss", "password": "wrong-password"})
    client.post("/admin/login/", {"username": "boss", "password": "pw-boss-12345"})

    rows = list(AuditLog.objects.filter(event__startswith="staff.").order_by("id"))
    assert [r.event for r in rows] == ["staff.login_failed", "staff.login"]
    assert rows[0].details == {"username": "boss"}
    assert "wrong-password" not in str(rows[0].details)
    assert rows[1].actor_id == boss.pk
    assert audit_chain_verify().broken is None


def test_an_agent_reply_and_a_request_for_a_human_are_audited(boss: User) -> None:
    received = services.message_receive(
        channel="simulator", external_user_id="cust-x2", display_name="", channel_message_id="m1", body="转人工"
    )
    conversation_id = received.message.conversation_id
    services.conversation_request_human(conversation_id=conversation_id, message_id=received.message.pk)
    console.conversation_take_over(conversation_id=conversation_id, agent=boss)

    reply = console.agent_reply(conversation_id=conversation_id, agent=boss, body="您好，我是客服小王。")

    requested = AuditLog.objects.get(event="bot.human_requested")
    assert requested.query == "转人工"
    (row,) = AuditLog.objects.filter(event="agent.reply")
    assert row.actor_id == boss.pk
    assert row.message_id_ref == reply.pk
    assert row.query == "转人工"
    assert row.response == "您好，我是客服小王。"


def test_a_staff_message_from_the_phone_is_audited() -> None:
    services.staff_message_record(
        channel="wechaty", external_user_id="wx-c1", display_name="", channel_message_id="p1", body="我来处理"
    )

    (row,) = AuditLog.objects.filter(event="agent.reply_from_phone")
    assert row.response == "我来处理"
    assert row.customer_ref == "wechaty:wx-c1"


def test_every_configured_log_handler_masks_personal_data() -> None:
    import logging

    from apps.core.logging import PiiMaskingFilter

    handlers = logging.getLogger().handlers
    configured = [h for h in handlers if h.get_name() == "console"]
    assert configured, "the LOGGING console handler is installed"
    assert all(any(isinstance(f, PiiMaskingFilter) for f in h.filters) for h in configured)
