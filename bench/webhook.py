"""Official Account webhook: ack latency at a steady request rate, against the real ASGI server.

    python bench/webhook.py [--rate 50] [--seconds 10]
    python bench/webhook.py --passive [--rate 10] [--seconds 15] [--latencies 2,4]

Starts uvicorn on a free port with its own database (desk_bench_webhook), sends signed
callbacks open-loop at a fixed rate (plain and safe mode, every one a new message that is
stored and enqueued), and prints P50/P99 against /healthz at the same rate as the baseline.
Goal: P99 <= 50 ms.

--passive: an unverified account that can only reply in the callback's response. The whole desk
runs (web, workers, the real answerer against peers/openai_server.py with each --latencies value
before the first token); WeChat's side (peers/oa_callbacks.py) sends safe-mode callbacks, waits
5 s per try and retries the same MsgId up to 3 times. Prints, per LLM latency, the time until the
response that carries the answer (P50/P99), the share answered on the first try, and the messages
that got the holding text instead. Goal: every answer within WeChat's tries, none twice.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
DB_NAME = "desk_bench_webhook"
QUEUE_PREFIX = "bench-webhook"
APP_ID = "wxbench0000000001"
TOKEN = "bench-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
os.environ["CELERY_QUEUE_PREFIX"] = QUEUE_PREFIX
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")
sys.path.insert(0, str(REPO))


def prepare_database() -> None:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    import django

    django.setup()
    from django.core.management import call_command

    from apps.wechat.models import WechatAccount

    call_command("migrate", verbosity=0)
    WechatAccount.objects.update_or_create(
        kind=WechatAccount.Kind.OFFICIAL_ACCOUNT,
        app_id=APP_ID,
        defaults={"name": "bench", "secret": "s", "token": TOKEN, "encoding_aes_key": AES_KEY, "is_active": True},
    )


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [sys.executable, "-m", "uvicorn", "project.asgi:application", "--port", str(port), "--no-access-log",
            "--log-level", "warning"]  # fmt: skip
    # A file, not a pipe: nobody reads the pipe while the bench runs, and a full one blocks uvicorn.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server, closed with the process
    proc = subprocess.Popen(args, cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    log.seek(0)
    raise SystemExit(f"uvicorn did not start: {log.read().decode(errors='replace')}")


def build_requests(count: int, *, aes: bool, run: str) -> list[tuple[str, bytes]]:
    from apps.wechat.crypto import MessageCrypto, sha1_signature

    crypto = MessageCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id=APP_ID)
    requests = []
    for i in range(count):
        ts, nonce = str(int(time.time())), f"{run}{i}"
        openid = f"oBench{run}{i // 5:06d}"
        xml = (
            f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[请问第 {i} 个问题怎么处理？]]></Content><MsgId>{run}{i:08d}</MsgId></xml>"
        )
        params = {"signature": sha1_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid}
        body = xml
        if aes:
            encrypted = crypto.encrypt(xml)
            params |= {
                "encrypt_type": "aes",
                "msg_signature": crypto.signature(timestamp=ts, nonce=nonce, encrypted=encrypted),
            }
            body = f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        requests.append((f"/wechat/oa/{APP_ID}/?{urlencode(params)}", body.encode()))
    return requests


async def steady(url: str, requests: list[tuple[str, bytes]] | None, count: int, rate: float) -> list[float]:
    """Latencies in ms; a request that fails or times out counts as 10,000 ms so P99 shows it."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:

        async def one(i: int) -> None:
            started = time.perf_counter()
            try:
                if requests is None:
                    response = await client.get("/healthz")
                else:
                    path, body = requests[i]
                    response = await client.post(path, content=body, headers={"Content-Type": "text/xml"})
                    if response.text != "success":
                        raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:200]}")
            except httpx.HTTPError:
                latencies.append(10_000.0)
                return
            latencies.append((time.perf_counter() - started) * 1000)

        begin = time.perf_counter()
        tasks = []
        for i in range(count):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return latencies


def cpu_ms(pid: int) -> float:
    """User+system CPU of a process so far, in ms (from /proc: no psutil needed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measured(pid: int, run: Callable[[], list[float]], count: int) -> tuple[list[float], float]:
    """The latencies of one phase and uvicorn's CPU per request in it (ms)."""
    before = cpu_ms(pid)
    latencies = run()
    return latencies, (cpu_ms(pid) - before) / count


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=None, help="requests per second (50; --passive: 10)")
    parser.add_argument("--seconds", type=float, default=None, help="(10; --passive: 15)")
    parser.add_argument("--passive", action="store_true", help="passive replies, through the whole desk")
    parser.add_argument("--latencies", default="2,4", help="--passive: LLM seconds before the first token")
    opts = parser.parse_args()
    if opts.passive:
        from bench.webhook_passive import passive_bench

        passive_bench(rate=opts.rate or 10.0, seconds=opts.seconds or 15.0, latencies=opts.latencies)
        return
    opts.rate, opts.seconds = opts.rate or 50.0, opts.seconds or 10.0
    count = int(opts.rate * opts.seconds)

    prepare_database()
    proc, url = start_server()
    run = str(int(time.time()))
    try:
        asyncio.run(steady(url, None, 50, opts.rate))  # warm up connections and the app
        asyncio.run(steady(url, build_requests(50, aes=False, run=run + "w"), 50, opts.rate))
        plain, safe = build_requests(count, aes=False, run=run + "p"), build_requests(count, aes=True, run=run + "a")
        results = {
            "healthz (baseline)": measured(proc.pid, lambda: asyncio.run(steady(url, None, count, opts.rate)), count),
            "OA webhook, plain": measured(proc.pid, lambda: asyncio.run(steady(url, plain, count, opts.rate)), count),
            "OA webhook, safe mode (AES)": measured(
                proc.pid, lambda: asyncio.run(steady(url, safe, count, opts.rate)), count
            ),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        import redis
        from django.conf import settings

        # The bench enqueues one processing task per message and runs no worker: drop them.
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(f"{QUEUE_PREFIX}.default", f"{QUEUE_PREFIX}.llm")

    base_p99 = pct(results["healthz (baseline)"][0], 0.99)
    print(f"{count} requests each at {opts.rate:.0f} req/s, one uvicorn worker (load average {os.getloadavg()[0]:.1f})")
    print(f"{'endpoint':<30}{'P50 ms':>9}{'P99 ms':>9}{'max ms':>9}{'P99/base':>10}{'CPU ms/req':>12}")
    for name, (values, cpu) in results.items():
        p50, p99 = pct(values, 0.5), pct(values, 0.99)
        failed = sum(1 for value in values if value >= 10_000)
        note = f"  ({failed} failed)" if failed else ""
        print(f"{name:<30}{p50:>9.1f}{p99:>9.1f}{max(values):>9.1f}{p99 / base_p99:>10.1f}{cpu:>12.2f}{note}")
    print("(CPU ms/req: uvicorn's user+system CPU per request, Postgres and Redis not included)")
    worst = max(pct(values, 0.99) for name, (values, _) in results.items() if name.startswith("OA"))
    print(f"goal P99 <= 50 ms: {'met' if worst <= 50 else 'NOT met'} (worst webhook P99 {worst:.1f} ms)")


if __name__ == "__main__":
    main()
