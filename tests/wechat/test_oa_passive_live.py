"""Official Account passive replies against the real processes (uvicorn, a Celery worker) and
WeChat's callback side (peers/oa_callbacks.py): a 5 s-style timeout per try, the same MsgId tried
three times, every response read and checked as WeChat reads it.

WeChat's clock is scaled down so each test takes seconds: a try times out after 1.5 s (WeChat: 5)
and the desk holds each try up to 1.0 s (production: 4.5); the answerer takes what the question
says ("[2.0s] …").
"""

import asyncio
import os
from collections.abc import Iterator

import httpx
import pytest
import redis
from django.conf import settings

from apps.conversations.models import Message
from apps.wechat.models import OaPassiveReply, WechatAccount
from peers.fake_wechat import FakeWeChat, serve
from peers.oa_callbacks import Delivery, OaCallbackPeer
from tests.factories import OfficialAccountFactory
from tests.support.processes import free_port, start_asgi_server, start_celery_worker
from tests.support.waiting import wait_for
from tests.wechat.conftest import AES_KEY, OA_TOKEN

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

TIMEOUT_S = 1.5
WAIT_S = 1.0
HOLDING = settings.WECHAT_OA_PASSIVE_HOLDING_TEXT
# More than a small box's executor threads (min(32, cores + 4)).
CUSTOMERS_AT_ONCE = 12


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    fake = FakeWeChat()
    server = serve(fake)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def desk(django_db_setup: None, fake: FakeWeChat) -> Iterator[str]:
    """One web and one worker process for the module (they start in seconds, not per test)."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_CACHE_DB": str(settings.REDIS_CACHE_DB),
        "REDIS_BROKER_DB": str(settings.REDIS_BROKER_DB),
        "REDIS_CHANNELS_DB": str(settings.REDIS_CHANNELS_DB),
        "CELERY_QUEUE_PREFIX": settings.CELERY_TASK_DEFAULT_QUEUE.removesuffix(".default"),
        "PYTHONPATH": str(settings.BASE_DIR),
        "DESK_ANSWERER": "tests.wechat.answerers.DelayedAnswerer",
        "DESK_MODERATOR": "apps.conversations.placeholders.AllowAllModerator",
        "WECHAT_OA_API_BASE_URL": fake.url,
        "WECHAT_OA_CALLBACK_TIMEOUT_SECONDS": str(TIMEOUT_S),
        "WECHAT_OA_PASSIVE_WAIT_SECONDS": str(WAIT_S),
        "WECHAT_OA_PASSIVE_POLL_SECONDS": "0.5",
    }
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # tasks of earlier tests' rows
    web = start_asgi_server(env, port=free_port())
    queues = f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.LLM_QUEUE}"
    worker = start_celery_worker(env, queue=queues, concurrency=CUSTOMERS_AT_ONCE + 4)
    yield web.url
    worker.stop()
    web.stop()


def _account(mode: str, fake: FakeWeChat) -> WechatAccount:
    account = OfficialAccountFactory.create(reply_mode=mode, token=OA_TOKEN, encoding_aes_key=AES_KEY)
    fake.unverified.add(account.app_id)  # an unverified subscription account: custom-send answers 48001
    return account


def _peer(desk: str, account: WechatAccount) -> OaCallbackPeer:
    return OaCallbackPeer(
        base_url=desk, app_id=account.app_id, token=OA_TOKEN, aes_key=AES_KEY, account_user="gh_test",
        timeout_s=TIMEOUT_S,
    )  # fmt: skip


def _say(peer: OaCallbackPeer, *, openid: str, msg_id: str, content: str, aes: bool = False) -> Delivery:
    async def send() -> Delivery:
        async with httpx.AsyncClient(base_url=peer.base_url) as client:
            return await peer.message(client, openid=openid, msg_id=msg_id, content=content, aes=aes)

    return asyncio.run(send())


def _replies(*deliveries: Delivery) -> list[str]:
    """Every reply the customer saw, over all tries of all messages."""
    return [attempt.reply for d in deliveries for attempt in d.tries if attempt.reply is not None and attempt.status]


@pytest.mark.django_db(transaction=True)
def test_a_2_s_answer_reaches_an_unverified_account_within_wechats_tries(desk: str, fake: FakeWeChat) -> None:
    account = _account(WechatAccount.ReplyMode.PASSIVE, fake)

    delivery = _say(_peer(desk, account), openid="oLive1", msg_id="10001", content="[2.0s] 你们几点关门？")

    assert delivery.errors == []
    assert delivery.reply == "答：[2.0s] 你们几点关门？"
    answered = delivery.answered
    assert answered is not None
    assert answered.number in (2, 3)  # a retry carried it
    assert all(attempt.status is None for attempt in delivery.tries[:-1])  # earlier tries: no response
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).status == Message.Status.DELIVERED
    assert fake.refused[account.app_id] == 0
    assert not [s for s in fake.sent if s.touser == "oLive1"]


@pytest.mark.django_db(transaction=True)
def test_an_answer_slower_than_every_try_rides_on_the_next_message_once(desk: str, fake: FakeWeChat) -> None:
    account = _account(WechatAccount.ReplyMode.PASSIVE, fake)
    peer = _peer(desk, account)

    first = _say(peer, openid="oLive2", msg_id="20001", content="[5.0s] 退货要多久？")
    wait_for(lambda: OaPassiveReply.objects.filter(account=account).exists(), timeout=15, what="the slow answer")
    second = _say(peer, openid="oLive2", msg_id="20002", content="好的")
    late = _say(peer, openid="oLive2", msg_id="20001", content="[5.0s] 退货要多久？")  # WeChat redelivers

    assert (first.answered and first.answered.number, first.reply) == (3, HOLDING)
    assert second.answered is not None
    assert second.answered.number == 1
    assert second.reply == "答：[5.0s] 退货要多久？\n\n答：好的"  # the oldest answer first
    assert late.reply is None
    assert late.answered is not None
    assert _replies(first, second, late) == [HOLDING, second.reply]  # nothing twice
    assert [first.errors, second.errors, late.errors] == [[], [], []]
    statuses = Message.objects.filter(direction=Message.Direction.OUTBOUND).values_list("status", flat=True)
    assert list(statuses) == [Message.Status.DELIVERED] * 2


@pytest.mark.django_db(transaction=True)
def test_a_safe_mode_reply_decrypts_and_verifies_with_wechatpy(desk: str, fake: FakeWeChat) -> None:
    account = _account(WechatAccount.ReplyMode.PASSIVE, fake)

    delivery = _say(_peer(desk, account), openid="oLive3", msg_id="30001", content="[0.3s] 发票", aes=True)

    assert delivery.errors == []  # decrypted for this AppID, msg_signature checked (peers/oa_callbacks.py)
    assert (delivery.answered and delivery.answered.number, delivery.reply) == (1, "答：[0.3s] 发票")


@pytest.mark.django_db(transaction=True)
def test_an_automatic_account_switches_on_48001_and_the_refused_reply_comes_next(desk: str, fake: FakeWeChat) -> None:
    account = _account(WechatAccount.ReplyMode.AUTO, fake)
    fake.user_wrote("oLive4")
    peer = _peer(desk, account)

    first = _say(peer, openid="oLive4", msg_id="40001", content="[0.5s] 第一问")
    wait_for(lambda: OaPassiveReply.objects.filter(account=account).exists(), timeout=15, what="the switch")
    second = _say(peer, openid="oLive4", msg_id="40002", content="第二问")

    assert (first.answered and first.answered.number, first.reply) == (1, None)  # "success": custom-send planned
    assert second.reply == "答：[0.5s] 第一问\n\n答：第二问"
    account.refresh_from_db()
    assert account.passive_since is not None
    assert fake.refused[account.app_id] == 1
    assert not [s for s in fake.sent if s.touser == "oLive4"]


@pytest.mark.django_db(transaction=True)
def test_a_dozen_held_at_once_all_get_their_answer_once(desk: str, fake: FakeWeChat) -> None:
    account = _account(WechatAccount.ReplyMode.PASSIVE, fake)
    peer = _peer(desk, account)

    async def crowd() -> list[Delivery]:
        limits = httpx.Limits(max_connections=CUSTOMERS_AT_ONCE)
        async with httpx.AsyncClient(base_url=desk, limits=limits) as client:
            return await asyncio.gather(
                *(
                    peer.message(client, openid=f"oCrowd{n:03d}", msg_id=f"5{n:04d}", content=f"[0.3s] 问题{n}")
                    for n in range(CUSTOMERS_AT_ONCE)
                )
            )

    deliveries = asyncio.run(crowd())

    # Every one within WeChat's tries (on a busy box some need a retry), none lost or doubled.
    assert [d.errors for d in deliveries] == [[]] * CUSTOMERS_AT_ONCE
    assert [d.reply for d in deliveries] == [f"答：[0.3s] 问题{n}" for n in range(CUSTOMERS_AT_ONCE)]
    assert sum(len(_replies(d)) for d in deliveries) == CUSTOMERS_AT_ONCE
