"""Media: OCR cost per image on this box, and callback-to-answer time for an image with a 2 s LLM.

    python bench/media.py [--runs 10] [--e2e 8] [--latency 2]

1. OCR (in this process, the engine the llm worker runs): a 1080x2340 phone screenshot of an order
   page and a 4000x3000 JPEG photo of a parcel label, each read --runs times after a warm-up.
   Prints P50/P95 wall time and CPU time (all threads: onnxruntime runs several) per image.
2. End to end on the whole desk (web, workers, beat; the real moderator and answerer against
   peers/openai_server.py answering after --latency s): the screenshot posted --e2e times, one
   at a time, to the inbound image API; and as the baseline in the same run, the same number of
   text messages. Time is from the POST to the answer delivered (the simulator channel delivers
   on commit); the difference is what the image adds: storing it sealed, fetching it back, OCR.
   CPU per image is the stack's CPU over the image phase, divided by the images.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness, seed  # noqa: E402
from bench.harness import pct  # noqa: E402

DB_NAME = "desk_bench_media"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
ISOLATION = {"REDIS_CACHE_DB": "9", "REDIS_BROKER_DB": "9", "REDIS_CHANNELS_DB": "9", "CELERY_QUEUE_PREFIX": "media"}
TOKEN = "bench-media-token"
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def screenshot(order: int = 12345678) -> bytes:
    """An order page as a phone shows it: 1080x2340, status bar, cards of Chinese text, a button.

    ``order``: the order number on it; each end-to-end image has its own, as customers' do, so the
    answer cache cannot answer a picture it has seen."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1080, 2340), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    big, small = ImageFont.truetype(CJK_FONT, 52), ImageFont.truetype(CJK_FONT, 40)
    draw.rectangle((0, 0, 1080, 120), fill=(255, 90, 0))
    draw.text((40, 30), "订单详情", font=big, fill="white")
    lines = [
        f"订单编号：2026112700{order:08d}", "下单时间：2026-11-25 14:32:10", "商品：羊毛混纺圆领毛衣 灰色 L",
        "数量：1  实付款：¥299.00", "物流状态：已揽收，等待发往转运中心", "快递公司：顺丰速运 SF1234567890123",
        "收货地址：上海市浦东新区张江路88号", "预计送达：11月29日", "售后服务：支持7天无理由退货",
    ]  # fmt: skip
    y = 180
    for index, line in enumerate(lines):
        if index % 3 == 0:
            draw.rounded_rectangle((30, y - 20, 1050, y + 3 * 110 - 30), radius=24, fill="white")
        draw.text((70, y), line, font=small, fill=(40, 40, 40))
        y += 110 + (40 if index % 3 == 2 else 0)
    draw.rounded_rectangle((640, 2180, 1040, 2290), radius=50, fill=(255, 90, 0))
    draw.text((700, 2205), "联系客服", font=big, fill="white")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def photo() -> bytes:
    """A 12-megapixel phone photo: a noisy, lit table with a slightly turned parcel label on it."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:3000, 0:4000]
    base = (120 + 60 * np.sin(xs / 700.0) + 40 * np.cos(ys / 500.0))[..., None] * np.array([1.0, 0.85, 0.7])
    pixels = np.clip(base + rng.normal(0, 12, (3000, 4000, 3)), 0, 255).astype("uint8")
    image = Image.fromarray(pixels)
    label = Image.new("RGB", (1600, 900), "white")
    draw = ImageDraw.Draw(label)
    font = ImageFont.truetype(CJK_FONT, 80)
    for i, line in enumerate(["收件人：王先生", "电话：138****5678", "上海市浦东新区张江路88号", "SF1234567890123"]):
        draw.text((60, 60 + i * 200), line, font=font, fill="black")
    image.paste(label.rotate(4, expand=True, fillcolor=(200, 170, 140)), (1100, 1000))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ocr(runs: int) -> None:
    from apps.knowledge.ocr import image_read_text

    print(f"== OCR, {runs} runs per image after one warm-up (RapidOCR PP-OCRv4 on onnxruntime, this process)")
    for name, data in (("screenshot 1080x2340 PNG", screenshot()), ("photo 4000x3000 JPEG", photo())):
        image_read_text(data=data)
        walls, cpus, chars = [], [], 0
        for _ in range(runs):
            started, cpu = time.perf_counter(), cpu_now()
            result = image_read_text(data=data)
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append((cpu_now() - cpu) * 1000)
            chars = len(result.text)
        size = f"{len(data) / 1024:,.0f} KB"
        wall = f"wall P50 {pct(walls, 50):,.0f} ms, P95 {pct(walls, 95):,.0f} ms"
        print(f"  {name:26} ({size}): {wall}; CPU P50 {pct(cpus, 50):,.0f} ms; {chars} characters read")


def post(client: object, url: str, *, image: bytes | None, text: str, key: str) -> None:
    import httpx

    assert isinstance(client, httpx.Client)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    fields = {"channel": "simulator", "channel_message_id": key, "external_user_id": f"bench-{key}"}
    if image is None:
        response = client.post(f"{url}/api/inbound/messages", json={**fields, "text": text}, headers=headers)
    else:
        files = {"image": ("shot.png", image, "image/png")}
        response = client.post(f"{url}/api/inbound/messages/image", data=fields, files=files, headers=headers)
    response.raise_for_status()


def answered_at(dsn: str, key: str, timeout: float) -> float:
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT r.status FROM conversations_message m JOIN conversations_message r ON r.reply_to_id = m.id "
                "WHERE m.channel_message_id = %s AND r.direction = 'out'",
                (key,),
            ).fetchone()
            if row is not None and row[0] in ("delivered", "failed"):
                return time.perf_counter()
            time.sleep(0.02)
    raise TimeoutError(f"no answer to {key} within {timeout} s")


def stack_env() -> dict[str, str]:
    return harness.production_env(
        **ISOLATION, DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}", DESK_INBOUND_API_TOKEN=TOKEN,
        DESK_MEDIA_ROOT=str(Path(os.environ.get("TMPDIR", "/tmp")) / "desk-bench-media"),
    )  # fmt: skip


def end_to_end(count: int, latency: float) -> None:
    import httpx
    import redis

    env = stack_env()
    harness.database_prepare(dsn=PG_DSN, name=DB_NAME, env=env)
    redis.Redis(db=int(ISOLATION["REDIS_CACHE_DB"])).flushdb()
    llm = harness.FakeLLM(latency_s=latency, answer="您好，您的订单已揽收，可以在「我的订单」里查看物流进度。")
    llm.start()
    seed.llm_endpoints([llm.url])
    seed.moderation()
    stack = harness.Stack(env=env)
    dsn = f"{PG_DSN} dbname={DB_NAME}"
    rng = random.Random(3)
    results: dict[str, list[float]] = {"text": [], "image": []}
    cpu: dict[str, float] = {}
    try:
        stack.start()
        # Drawn before the clock starts: this process's CPU counts in the per-message figures.
        images = [screenshot(rng.randrange(10**8)) for _ in range(count + 2)]
        with httpx.Client(timeout=30) as client:
            for kind in ("warm", "text", "image"):
                before = sum(harness.cpu_seconds(stack, {}).values())
                for _ in range(2 if kind == "warm" else count):
                    key = f"{kind}-{uuid.uuid4().hex[:12]}"
                    image = images.pop() if kind in ("image", "warm") else None
                    started = time.perf_counter()
                    post(client, stack.url, image=image, text=f"我的订单{rng.randrange(10**6)}什么时候到？", key=key)
                    done = answered_at(dsn, key, timeout=60)
                    if kind != "warm":
                        results[kind].append((done - started) * 1000)
                if kind != "warm":
                    cpu[kind] = (sum(harness.cpu_seconds(stack, {}).values()) - before) * 1000 / count
    finally:
        stack.stop()
        llm.proc.stop()
    print(f"== End to end, {count} messages each, one at a time, LLM answers after {latency:g} s")
    for kind, values in results.items():
        spread = f"P50 {pct(values, 50):,.0f} ms, P95 {pct(values, 95):,.0f} ms"
        print(f"  {kind:5}: {spread}; CPU per message {cpu[kind]:,.0f} ms")
    added = pct(results["image"], 50) - pct(results["text"], 50)
    print(f"  an image adds {added:,.0f} ms at P50 over the same question typed "
          f"(ratio {pct(results['image'], 50) / pct(results['text'], 50):.2f}x); "
          f"CPU per image {cpu['image'] - cpu['text']:,.0f} ms more than per text")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--e2e", type=int, default=8)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args()
    # This process seeds the stack's database too: its settings are the stack's from the start.
    os.environ.update(stack_env())
    import django

    django.setup()
    ocr(args.runs)
    if args.e2e:
        end_to_end(args.e2e, args.latency)


if __name__ == "__main__":
    main()
