"""The embedded model on this box: start-up, first-token latency, tokens/s, memory, and its answers.

    python bench/embedded.py [--runs 10] [--threads 2] [--omp default|passive|active] [--gguf FILE --name NAME]

Starts the model server the Procfile starts (``python -m apps.llm.embedded_server``: SHA-256, then
llama.cpp through xllamacpp), waits for /health, then asks ten Chinese customer-service questions one
at a time through the desk's own client (streamed, as the pool calls it), with the desk's default
persona as the system prompt and its sampling (temperature 0.6, top_p 0.95, at most 256 tokens).
``--gguf`` serves another GGUF file instead (no verification; to compare models, e.g. the 0.5B).
Prints one line per question and the medians; docs/benchmarks.md "Embedded model (issue 20)".
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")
os.environ.setdefault("LLM_EMBEDDED_URL", "http://127.0.0.1:8090")  # replaced below by this run's port

import django  # noqa: E402

django.setup()

from apps.llm import client, selectors  # noqa: E402
from apps.llm.embedded_model import SPEC  # noqa: E402
from apps.llm.models import PromptSettings  # noqa: E402
from apps.llm.types import ChatRequest, EndpointConfig  # noqa: E402

QUESTIONS = [
    "你好，我想退货，怎么操作？",
    "我的快递三天了还没到，能帮我查一下吗？",
    "衣服尺码偏大还是偏小？我平时穿M码。",
    "可以开发票吗？公司抬头的那种。",
    "收到的杯子是碎的，怎么办？",
    "你们周末有人工客服吗？",
    "下单后还能改收货地址吗？",
    "有没有优惠券或者满减活动？",
    "退款多久能到账？",
    "这个商品支持七天无理由退换吗？",
]

# Serves a GGUF file given on the command line, for comparisons only: no verification.
_PLAIN_SERVER = """
import sys, threading, xllamacpp
p = xllamacpp.CommonParams()
p.model.path, p.model_alias, p.hostnames, p.port = sys.argv[1], {sys.argv[2]}, ["127.0.0.1"], int(sys.argv[3])
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = int(sys.argv[4])
p.n_ctx, p.ui, p.verbosity = 4096, False, 2
server = xllamacpp.Server(p)
threading.Event().wait()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def start(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LLM_EMBEDDED_PORT": str(port), "LLM_EMBEDDED_THREADS": str(args.threads)}
    env["LLM_EMBEDDED_ENABLED"] = "true"
    # default: the server's own choice (OMP_WAIT_POLICY=PASSIVE, unless this environment sets GOMP_SPINCOUNT,
    # which libgomp lets override it); the other two set the spin count their policy implies.
    env.pop("OMP_WAIT_POLICY", None)
    if args.omp != "default":
        env["OMP_WAIT_POLICY"] = args.omp.upper()
        env["GOMP_SPINCOUNT"] = "0" if args.omp == "passive" else "30000000000"
    env["DESK_LOG_LEVEL"] = "INFO"
    if args.gguf:
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the desk's server sets it
        command = [sys.executable, "-c", _PLAIN_SERVER, args.gguf, args.name, str(port), str(args.threads)]
    else:
        command = [sys.executable, "-m", "apps.llm.embedded_server"]
    return subprocess.Popen(command, cwd=ROOT, env=env)  # its log (verification, load) on this terminal


def env_spin(args: argparse.Namespace) -> str:
    if args.omp == "default":
        return os.environ.get("GOMP_SPINCOUNT", "0 (the server's OMP_WAIT_POLICY=PASSIVE)")
    return "0" if args.omp == "passive" else "30000000000"


def wait_up(process: subprocess.Popen[bytes], url: str, limit_s: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if process.poll() is not None:
            raise SystemExit("the model server exited")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the model server did not answer /health within {limit_s:.0f} s")


async def ask_all(endpoint: EndpointConfig, questions: list[str], pid: int) -> list[tuple[float, float, float]]:
    persona = PromptSettings._meta.get_field("instructions").get_default()
    rows = []
    async with client.http_client(max_connections=4) as http:
        for question in questions:
            request = ChatRequest(
                messages=[{"role": "system", "content": persona}, {"role": "user", "content": question}],
                max_tokens=256,
                temperature=0.6,
                top_p=0.95,
            )
            c = await client.chat_complete(http=http, endpoint=endpoint, request=request)
            ttft = (c.ttft_ms or 0) / 1000
            decode_s = max(c.total_ms / 1000 - ttft, 1e-3)
            rate = max((c.tokens_out or 1) - 1, 0) / decode_s
            rows.append((ttft, rate, c.total_ms / 1000))
            print(
                f"  TTFT {ttft:5.2f} s, {c.tokens_out or 0:3d} tokens at {rate:5.1f} tok/s, "
                f"total {c.total_ms / 1000:5.1f} s, RSS {rss_mb(pid)['VmRSS']} MB | {question} → {c.text!r}",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=len(QUESTIONS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--omp", choices=["passive", "active", "default"], default="default")
    parser.add_argument("--gguf", help="serve this GGUF file instead of the verified embedded model")
    parser.add_argument("--name", default=SPEC.name)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    load = os.getloadavg()
    process = start(args, port)
    try:
        up_s = wait_up(process, url)
        print(f"{args.gguf or SPEC.filename}: /health answered {up_s:.1f} s after start (verification + load);"
              f" {args.threads} threads, OMP {args.omp}, GOMP_SPINCOUNT={env_spin(args)};"
              f" load average before {load[0]:.1f}")  # fmt: skip
        # The desk's own embedded endpoint, pointed at this server, with a bench's patience.
        desk_endpoint = selectors.embedded_endpoint()
        assert desk_endpoint is not None, "LLM_EMBEDDED_ENABLED=false"
        endpoint = replace(
            desk_endpoint,
            base_url=url,
            model=args.name,
            read_timeout_s=120,
            total_timeout_s=300,
        )
        questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.runs)]
        rows = asyncio.run(ask_all(endpoint, questions, process.pid))
        memory = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    ttfts, rates, totals = zip(*rows, strict=True)
    print(
        f"median TTFT {statistics.median(ttfts):.2f} s, median {statistics.median(rates):.1f} tok/s "
        f"(min {min(rates):.1f}, max {max(rates):.1f}), median answer {statistics.median(totals):.1f} s; "
        f"RSS {memory['VmRSS']} MB (peak {memory['VmHWM']}; weights mapped from the file {memory['RssFile']}, "
        f"anonymous {memory['RssAnon']}); load average after {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
