"""What delivery still guarantees with one contact read, no DEL of its progress and no GET of it on
a first attempt (issue 22): a crash after a send does not send again, and two senders to one
customer take turns, the second planning within what the first left of WeChat's budget."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from apps.conversations.models import Message
from apps.conversations.services import outbound
from apps.conversations.services.outbound import message_deliver
from apps.conversations.tasks import deliver
from apps.wechat import client as wechat_client
from apps.wechat.channels import OFFICIAL_ACCOUNT
from apps.wechat.models import WechatAccount, WechatContact
from apps.wechat.planner import reply_plan
from apps.wechat.selectors import contact_for_reply
from peers.fake_wechat import FakeWeChat
from tests.factories import ConversationFactory, CustomerFactory, WechatContactFactory
from tests.wechat.answerers import LONG_ANSWER
from tests.wechat.signing import oa_post, oa_text_xml

OPENID = "oDeliveryGuarantee00000000001"


@pytest.mark.usefixtures("eager_tasks")
def test_a_crash_after_a_one_segment_send_does_not_send_it_again(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_wechat.user_wrote(OPENID)
    real = outbound._delivered_set
    crashes = [RuntimeError("the worker died between the send and the commit")]

    def delivered_set(message: Message) -> None:
        if crashes:
            raise crashes.pop()  # after WeChat accepted the send: the attempt's transaction rolls back
        real(message)

    monkeypatch.setattr(outbound, "_delivered_set", delivered_set)

    oa_post(client, oa_text_xml(openid=OPENID, msg_id="1", content="几点关门？"))

    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    # The inline attempt sent and rolled back; the deliver task (eager here) found the send done.
    assert crashes == []
    assert (reply.status, reply.attempts) == (Message.Status.DELIVERED, 2)
    assert [(s.api, s.touser) for s in fake_wechat.sent] == [("custom", OPENID)]
    assert WechatContact.objects.get(user_id=OPENID).sent_in_window == 1  # counted once, by the commit
    deliver.apply(args=(reply.pk,))  # a late duplicate of the task (or the sweeper) sends nothing more
    assert len(fake_wechat.sent) == 1


def _waiting_for_a_customer_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = %s", [0x7765]
        )
        return bool(cursor.fetchone()[0])


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_two_senders_to_one_customer_at_the_budget_edge_see_each_others_counter(
    oa_account: WechatAccount, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.WECHAT_REPLY_BUDGET = 4
    fake_wechat.user_wrote(OPENID)
    customer = CustomerFactory.create(channel=OFFICIAL_ACCOUNT, external_id=OPENID)
    WechatContactFactory.create(account=oa_account, customer=customer, window_opened_at=timezone.now())
    conversation = ConversationFactory.create(customer=customer)
    first, second = (
        Message.objects.create(
            conversation=conversation,
            channel=OFFICIAL_ACCOUNT,
            direction=Message.Direction.OUTBOUND,
            author_kind=Message.AuthorKind.AGENT,
            body=LONG_ANSWER,
            status=Message.Status.PROCESSING,
        )
        for _ in range(2)
    )
    sending, release = threading.Event(), threading.Event()
    real_send = wechat_client.oa_custom_send_text

    def held_send(**kwargs: Any) -> None:
        if not sending.is_set():  # the first sender's first segment: hold it while the second arrives
            sending.set()
            assert release.wait(15)
        real_send(**kwargs)

    monkeypatch.setattr(wechat_client, "oa_custom_send_text", held_send)
    errors: list[BaseException] = []

    def sender(message_id: int) -> Callable[[], None]:
        def run() -> None:
            try:
                message_deliver(message_id=message_id)
            except BaseException as exc:  # reported by the test's assertion
                errors.append(exc)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=sender(first.pk)), threading.Thread(target=sender(second.pk))]
    threads[0].start()
    _wait(sending.is_set, "the first sender's send")
    threads[1].start()
    _wait(_waiting_for_a_customer_lock, "the second sender to wait for the customer's lock")
    release.set()
    for thread in threads:
        thread.join(30)

    assert errors == []
    plan = {"max_bytes": settings.WECHAT_TEXT_MAX_BYTES, "notice": settings.WECHAT_TRUNCATION_NOTICE}
    first_plan = reply_plan(text=LONG_ANSWER, budget=4, **plan)
    second_plan = reply_plan(text=LONG_ANSWER, budget=4 - len(first_plan), **plan)
    assert len(first_plan) == 3
    assert len(second_plan) == 1  # cut to what the first left, not planned from a stale 0
    assert [s.content for s in fake_wechat.sent] == first_plan + second_plan
    assert WechatContact.objects.get(user_id=OPENID).sent_in_window == 4
    statuses = Message.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    assert list(statuses) == [Message.Status.DELIVERED] * 2


@pytest.mark.django_db
def test_the_raw_contact_read_gives_the_orm_s_values(oa_account: WechatAccount) -> None:
    now = timezone.now()
    customer = CustomerFactory.create(channel=OFFICIAL_ACCOUNT, external_id=OPENID)
    stored = WechatContactFactory.create(
        account=oa_account,
        customer=customer,
        window_opened_at=now - timedelta(hours=1),
        sent_in_window=3,
        quota_error_code=45047,
        quota_error_at=now,
        kf_state=1,
    )

    found = contact_for_reply(channel=OFFICIAL_ACCOUNT, external_id=OPENID, message_id=0)

    assert found is not None
    assert (found.parked, found.attempts) == (False, None)
    names = ["id", "account_id", "customer_id", "open_kfid", "user_id", "window_opened_at", "sent_in_window"]
    names += ["quota_error_code", "quota_error_at", "kf_state"]
    assert {n: getattr(found.contact, n) for n in names} == {n: getattr(stored, n) for n in names}
    account = found.contact.account
    assert (account.pk, account.kind, account.app_id, account.reply_mode) == (
        oa_account.pk,
        oa_account.kind,
        oa_account.app_id,
        oa_account.reply_mode,
    )
    assert account.secret == "oa-app-secret"  # deferred: read (and decrypted) only when a token is fetched
