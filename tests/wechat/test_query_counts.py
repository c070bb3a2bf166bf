"""SQL statements and Redis commands per Official Account message, asserted so they cannot creep
back (issue 22): WeChat's own path, the one bench/load.py drives.

Steady state: the customer's second message. The callback's work (oa_callback_accept: the view
around it only checks the signature and decrypts), then the processing task and the custom-send
delivery, run inline with eager tasks against the fake WeChat API."""

import pytest

from apps.conversations.models import Message
from apps.wechat.models import WechatAccount
from apps.wechat.official_account.services import OaCallback, oa_callback_accept
from apps.wechat.payloads import xml_fields
from peers.fake_wechat import FakeWeChat
from tests.support.counting import round_trips
from tests.wechat.signing import oa_text_xml

OPENID = "oQueryCount000000000000000001"


@pytest.mark.usefixtures("eager_tasks")
def test_an_official_account_exchange_costs_a_fixed_number_of_statements(
    monkeypatch: pytest.MonkeyPatch, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.user_wrote(OPENID)

    def callback(number: int) -> None:
        xml = oa_text_xml(openid=OPENID, msg_id=f"77{number:06d}", content=f"第 {number} 个问题")
        oa_callback_accept(account=oa_account, callback=OaCallback.from_fields(xml_fields(xml.encode())))

    callback(1)
    with round_trips(monkeypatch) as counted:
        callback(2)

    replies = Message.objects.filter(direction=Message.Direction.OUTBOUND, status=Message.Status.DELIVERED)
    assert replies.count() == 2
    statements, commands = counted.statements, counted.redis
    # The callback: one transaction (the open conversation with its customer, the message insert, whose
    # unique index turns a redelivery away, its recency, the reply window's upsert) = 6. Processing: the
    # claim that reads the message with its conversation (whether it has media, whether it is the
    # first), the context, then the reply's transaction (the conversation's lock, the message's
    # compare-and-set, the reply insert, the audit row under the chain's lock) = 10. Delivery, inline
    # after that commit, no savepoint: the reply's lock, the customer's lock, the contact with its
    # account (whether the reply is parked, its attempts), the counters' UPDATE and delivered = 7.
    # Before issue 22: 41 statements, 4 BEGINs; 29 before the cuts of docs/performance-plan.md.
    assert len(statements) <= 23, statements
    assert statements.count("BEGIN") <= 3, statements
    delivery = statements[len(statements) - 1 - statements[::-1].index("BEGIN") :]
    assert delivery == ["BEGIN", "SELECT", "SELECT", "SELECT", "UPDATE", "UPDATE", "COMMIT"], statements
    # The rate-limit bucket (EVALSHA) and the delivery's progress after the send (SET): a first attempt
    # has no progress to GET, one segment needs no plan kept before its send, nothing DELs it, and the
    # access token is this process's copy. The moderation and knowledge version checks add one GET
    # each only when their interval has passed. Before: 6 (progress GET, SET, SET, DEL, token GET).
    assert [command for command in commands if command != "GET"] == ["EVALSHA", "SET"], commands
    assert commands.count("GET") <= 2, commands
