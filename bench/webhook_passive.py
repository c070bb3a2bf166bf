"""``python bench/webhook.py --passive``: Official Account passive replies through the whole desk.

An unverified account (the fake WeChat answers custom-send with 48001) set to passive replies;
web, the default worker and the llm worker (bench/harness.py) with the production answerer and
moderator, the LLM a local OpenAI-compatible server (peers/openai_server.py) that waits each
latency before its first token. Customers write open-loop at a fixed rate, one message each,
through WeChat's side (peers/oa_callbacks.py): safe-mode callbacks, 5 s per try, the same MsgId
up to 3 tries, every response decrypted and checked with wechatpy.
"""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import redis

from bench import harness, seed
from bench.harness import pct
from peers.fake_wechat import FakeWeChat, serve
from peers.oa_callbacks import Delivery, OaCallbackPeer

APP_ID = "wxbenchpassive0001"
TOKEN = "bench-passive-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
ISOLATION = {"REDIS_CACHE_DB": "8", "REDIS_BROKER_DB": "8", "REDIS_CHANNELS_DB": "8"}


async def _customers(url: str, *, count: int, rate: float, run: str) -> list[Delivery]:
    peer = OaCallbackPeer(base_url=url, app_id=APP_ID, token=TOKEN, aes_key=AES_KEY, account_user="gh_bench")
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        begin, tasks = time.perf_counter(), []
        for i in range(count):
            await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
            message = peer.message(
                client, openid=f"oP{run}{i:05d}", msg_id=f"{run}{i:06d}", content=f"请问订单 {run}-{i} 什么时候发货？"
            )
            tasks.append(asyncio.create_task(message, name=f"customer-{i}"))
        return list(await asyncio.gather(*tasks))


def _summary(latency: float, deliveries: list[Delivery], holding: str) -> dict[str, str]:
    answered = [d for d in deliveries if d.answered and d.reply and d.reply != holding]
    # From WeChat's first try to the response that carried the answer; and that response alone.
    to_answer = [d.answered.at_s + d.answered.elapsed_s for d in answered if d.answered]
    carrying = [d.answered.elapsed_s for d in answered if d.answered]
    first_try = sum(1 for d in answered if d.answered and d.answered.number == 1)
    replies = sum(1 for d in deliveries for t in d.tries if t.status is not None and t.reply)
    count = len(deliveries)
    return {
        "LLM": f"{latency:g} s",
        "messages": str(count),
        "answered in the tries": f"{len(answered)} ({100 * len(answered) / count:.0f} %)",
        "on the first try": f"{100 * first_try / count:.1f} %",
        "to answer P50 / P99": f"{pct(to_answer, 50):.2f} / {pct(to_answer, 99):.2f} s",
        "carrying response P99": f"{pct(carrying, 99):.2f} s",
        "holding text": str(sum(1 for d in deliveries if d.reply == holding)),
        # "success" to a retry: the reply went into a response that came too late for WeChat.
        "lost after hand-out": str(sum(1 for d in deliveries if d.answered and not d.reply and len(d.tries) > 1)),
        "no response in time": str(sum(1 for d in deliveries if not d.answered)),
        "replies seen": f"{replies} (dupes {replies - count})",
        "errors": str(sum(len(d.errors) for d in deliveries)),
    }


def passive_bench(*, rate: float, seconds: float, latencies: str) -> None:
    fake = FakeWeChat()
    serve(fake)
    fake.unverified.add(APP_ID)
    env = harness.production_env(
        **ISOLATION,
        DATABASE_URL=os.environ["DATABASE_URL"],
        CELERY_QUEUE_PREFIX=os.environ["CELERY_QUEUE_PREFIX"],
        WECHAT_OA_API_BASE_URL=fake.url,
    )
    os.environ.update(env)
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    print(f"preparing {name} (migrate, empty), Redis DB {ISOLATION['REDIS_CACHE_DB']}")
    harness.database_prepare(dsn=PG_DSN, name=name, env=env)
    redis.Redis(db=int(ISOLATION["REDIS_CACHE_DB"])).flushdb()
    import django

    django.setup()
    from django.conf import settings

    from apps.wechat.models import WechatAccount

    values = [float(value) for value in latencies.split(",")]
    llm = harness.FakeLLM(latency_s=values[0])
    llm.start()
    seed.llm_endpoints([llm.url])
    seed.official_account(app_id=APP_ID, token=TOKEN, aes_key=AES_KEY)
    WechatAccount.objects.filter(app_id=APP_ID).update(reply_mode=WechatAccount.ReplyMode.PASSIVE)
    stack = harness.Stack(env=env, llm_concurrency=128)
    count, rows = int(rate * seconds), []
    try:
        stack.start(beat=False)
        # Loads the moderation model and fills every pool; a first answer can take longer than the tries.
        asyncio.run(_customers(stack.url, count=10, rate=5, run=f"{int(time.time())}0"))
        for latency in values:
            llm.behave(latency_s=latency)
            run = f"{int(time.time())}{int(latency * 10)}"
            deliveries = asyncio.run(_customers(stack.url, count=count, rate=rate, run=run))
            rows.append(_summary(latency, deliveries, settings.WECHAT_OA_PASSIVE_HOLDING_TEXT))
            stack.check_alive()
    finally:
        stack.stop()
        llm.proc.stop()
    print(f"\n{count} customers per LLM latency at {rate:g} msg/s, one message each, safe mode")
    print(f"custom-sends attempted: {sum(fake.refused.values())} (refused 48001), sent: {len(fake.sent)}")
    for row in rows:
        print("  " + "; ".join(f"{key}: {value}" for key, value in row.items()))
