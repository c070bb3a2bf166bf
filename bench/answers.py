"""Answer quality of any model behind the desk: facts, inventions, hand-overs, injections, leaks, latency.

    python bench/answers.py                                   # the embedded model (started here), all 152 questions
    python bench/answers.py --limit 20                        # a spread of every kind
    python bench/answers.py --url http://gpu-1:8000 --model deepseek-r1 --thinks   # any OpenAI-compatible server
    python bench/answers.py --peer --limit 8                  # peers/openai_server.py (a smoke run; --peer-mode)
    python bench/answers.py --kinds injection,human --json /tmp/answers.json

Each question of peers/answers_dataset.py goes the desk's own way, one at a time, each as the first
message of a fresh conversation: ``asks_for_human`` first (a request the desk hands over by itself),
then ``LLMAnswerer().answer`` (answer cache off, so every question is measured; the knowledge base's
direct answers stay on, as in production). ``AnswerUnavailable`` or ``Answer.hand_over`` count as handed
over. The answer is scored by bench/answer_scoring.py against the demo shop's knowledge base.

The database is ``desk_bench_answers`` (``--database``) on DATABASE_URL's server: created and migrated
once, kept between runs; each run brings its knowledge base back to apps/knowledge/data/demo_store.csv,
embeds it, resets the prompt settings to their defaults and enables only the endpoint under test.
Redis: the databases in the environment (REDIS_CACHE_DB...), as the desk uses them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from bench.answer_report import Row, report  # noqa: E402
from bench.answer_scoring import KnowledgeText, judge  # noqa: E402
from peers.answers_dataset import ITEMS, KINDS, Item  # noqa: E402

ENDPOINT_NAME = "bench-answers"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--url", help="an OpenAI-compatible server, up to and without /v1 (default: the embedded model)"
    )
    target.add_argument("--peer", action="store_true", help="peers/openai_server.py in a subprocess")
    parser.add_argument("--model", default="deepseek-r1", help="the model name the --url server serves")
    parser.add_argument("--api-key", default=os.environ.get("BENCH_API_KEY", ""))
    parser.add_argument(
        "--thinks",
        action="store_true",
        help="a reasoning model (R1): instructions in the user turn, a cut reply is a cut thought",
    )
    parser.add_argument("--peer-mode", default="content", help="peers/openai_server.py's mode (think_tags, ...)")
    parser.add_argument("--peer-answer", default="您好，我们每天九点开门。")
    parser.add_argument("--limit", type=int, default=0, help="ask this many, spread over the kinds")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--database", default="desk_bench_answers")
    parser.add_argument("--threads", type=int, default=0, help="the embedded server's threads (default: its own)")
    parser.add_argument("--no-warmup", action="store_true", help="count the very first call too")
    parser.add_argument("--json", type=Path, help="write every answer and the summary here")
    args = parser.parse_args(argv)
    unknown = set(args.kinds.split(",")) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}")
    return args


def select(items: tuple[Item, ...], kinds: list[str], limit: int) -> list[Item]:
    """The kinds asked for; with a limit, a share of each kind in proportion (at least one each),
    spread evenly over the kind's list so a short run still covers many topics."""
    groups = {k: [i for i in items if i.kind == k] for k in KINDS if k in kinds}
    groups = {k: g for k, g in groups.items() if g}
    total = sum(len(g) for g in groups.values())
    if not limit or limit >= total:
        return [i for g in groups.values() for i in g]
    exact = {k: limit * len(g) / total for k, g in groups.items()}
    quota = {k: max(1 if limit >= len(groups) else 0, int(v)) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - int(exact[k]), reverse=True):
        if sum(quota.values()) >= limit:
            break
        quota[k] += 1
    while sum(quota.values()) > limit:
        quota[max(quota, key=quota.__getitem__)] -= 1
    chosen = []
    for k, group in groups.items():
        q = quota[k]
        chosen += [group[round((j + 0.5) * len(group) / q - 0.5)] for j in range(q)] if q else []
    return chosen


# The database and the desk's settings --------------------------------------------------------------


def database_url(name: str) -> str:
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/desk"))
    return urlunsplit(base._replace(path=f"/{name}"))


def database_ensure(url: str) -> None:
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parts.path[1:],)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{parts.path[1:]}"')


def django_start(args: argparse.Namespace, embedded_url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
    os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = database_url(args.database)
    os.environ["ANSWER_CACHE_ENABLED"] = "false"  # every question measured, none served from an earlier run
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"  # the knowledge base's embedding runs here, not queued
    os.environ["LLM_EMBEDDED_ENABLED"] = "true" if embedded_url else "false"
    os.environ["LLM_EMBEDDED_URL"] = embedded_url
    database_ensure(os.environ["DATABASE_URL"])
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def knowledge_load() -> KnowledgeText:
    """The demo store exactly as the CSV has it, embedded; returns its text for the scorer."""
    from django.core.management import call_command

    from apps.knowledge import services
    from apps.knowledge.management.commands.knowledge_demo import demo_store_rows
    from apps.knowledge.models import Entry
    from apps.llm import selectors

    rows = demo_store_rows()
    fields = ("question", "variants", "answer", "tags")
    wanted = {(*(r[f] for f in fields), r["enabled"] == "1", r["direct_answer"] == "1") for r in rows}
    have = set(Entry.objects.values_list(*fields, "enabled", "direct_answer"))
    if have != wanted:
        services.entries_delete(entries=list(Entry.objects.all()))
        call_command("knowledge_demo", force=True, stdout=io.StringIO())
    services.entries_embed_stale()
    enabled = [
        {"question": e.question, "variants": e.variants, "answer": e.answer} for e in Entry.objects.filter(enabled=True)
    ]
    return KnowledgeText.from_rows(enabled, instructions=selectors.prompt_config_get().instructions)


def desk_configure(args: argparse.Namespace, url: str, model: str) -> list[int]:
    """Default prompt settings; the one endpoint under test enabled (none for the embedded model).
    Returns the endpoint ids whose breaker state is reset."""
    from django.conf import settings
    from redis import Redis

    from apps.llm import selectors
    from apps.llm.models import Endpoint, PromptSettings

    PromptSettings.objects.all().delete()
    PromptSettings.objects.create(instructions_in_user_turn=args.thinks)
    Endpoint.objects.update(enabled=False)
    ids = [selectors.EMBEDDED_ENDPOINT_ID]
    if url:
        endpoint, _ = Endpoint.objects.update_or_create(
            name=ENDPOINT_NAME,
            defaults={"base_url": url, "model": model, "api_key": args.api_key, "enabled": True, "thinks": args.thinks},
        )
        ids.append(endpoint.pk)
    selectors.endpoints_cache_clear()
    redis = Redis.from_url(settings.LLM_REDIS_URL)
    for endpoint_id in ids:
        keys = list(redis.scan_iter(f"{settings.LLM_REDIS_PREFIX}:ep:{endpoint_id}:*"))
        if keys:
            redis.delete(*keys)
    return ids


# The model server -------------------------------------------------------------------------------


class EmbeddedServer:
    """``python -m apps.llm.embedded_server`` on a free port, as the Procfile runs it (bench/embedded.py)."""

    def __init__(self, threads: int) -> None:
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="desk-bench-answers-llm-", suffix=".log")[1])
        env = {**os.environ, "LLM_EMBEDDED_PORT": str(self.port), "LLM_EMBEDDED_ENABLED": "true"}
        env["DESK_LOG_LEVEL"] = "INFO"
        if threads:
            env["LLM_EMBEDDED_THREADS"] = str(threads)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "apps.llm.embedded_server"], cwd=ROOT, env=env, stdout=log, stderr=log
            )

    def wait(self, limit_s: float = 300) -> float:
        started = time.monotonic()
        while time.monotonic() - started < limit_s:
            if self.process.poll() is not None:
                raise SystemExit(f"the model server exited:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    # /health is also 200 from the stand-in of a model that is off: ask for the model too.
                    if httpx.get(f"{self.url}/v1/models", timeout=5).status_code != 200:
                        raise SystemExit(f"the model server serves no model:\n{self.log.read_text()[-2000:]}")
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the model server did not answer /health within {limit_s:.0f} s")

    def memory_mb(self) -> dict[str, int]:
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) // 1024
        return fields

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


# Asking -------------------------------------------------------------------------------------------


def conversation_new(tag: str, index: int) -> int:
    """A fresh conversation per question, so the answerer gets a real id as the spine gives it."""
    from apps.conversations.models import Conversation, Customer

    customer = Customer.objects.create(channel="simulator", external_id=f"bench-answers-{tag}-{index}")
    return Conversation.objects.create(customer=customer, channel="simulator").pk


def ask(item: Item, conversation_id: int) -> dict[str, Any]:
    """One question the desk's way; what came back and how long it took."""
    from apps.conversations.pipeline import AnswerUnavailable
    from apps.conversations.services.modes import asks_for_human
    from apps.llm.answerer import LLMAnswerer

    if asks_for_human(item.question):
        return {"handed_over": "asks_for_human", "source": "human-request", "text": ""}
    started = time.perf_counter()
    try:
        answer = LLMAnswerer().answer(conversation_id=conversation_id, question=item.question, context=[])
    except AnswerUnavailable as exc:
        wall = time.perf_counter() - started
        return {"handed_over": f"unavailable: {exc}", "source": "unavailable", "text": "", "wall_s": wall}
    wall = time.perf_counter() - started
    meta = answer.meta
    out: dict[str, Any] = {"handed_over": answer.hand_over, "source": meta.get("source", "?"), "wall_s": wall}
    out["text"] = "" if answer.hand_over else answer.text
    out["reasoning_chars"] = len(answer.reasoning)
    out.update(guard=meta.get("guard", ""), guard_detail=str(meta.get("guard_detail", "")))
    # Timed wherever the model was called, also when its draft was then replaced or withheld.
    ttft, total, tokens = meta.get("ttft_ms"), meta.get("total_ms"), meta.get("tokens_out")
    if ttft is not None:
        out["ttft_s"] = ttft / 1000
        if total and tokens and tokens > 1 and total > ttft:
            out["tokens_per_s"] = (tokens - 1) / ((total - ttft) / 1000)
    out.update(tokens_in=meta.get("tokens_in"), tokens_out=tokens, finish_reason=meta.get("finish_reason"))
    return out


def warm_up() -> None:
    """Load the knowledge index and send one call, as a worker that has answered before would have."""
    from apps.conversations.pipeline import get_knowledge
    from apps.llm import services
    from apps.llm.types import NoEndpointAvailable

    get_knowledge().search(question="你好")
    try:
        services.completion_create(question="你好", context=[])
    except NoEndpointAvailable as exc:
        print(f"warm-up call failed: {exc}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    items = select(ITEMS, args.kinds.split(","), args.limit)
    server: EmbeddedServer | None = None
    peer: harness.FakeLLM | None = None
    url, model = args.url or "", args.model
    if args.peer:
        peer = harness.FakeLLM(latency_s=0.05, chunk_delay_s=0.01, answer=args.peer_answer)
        peer.start()
        peer.behave(mode=args.peer_mode)
        url, model = peer.url, "deepseek-r1"
    elif not url:
        server = EmbeddedServer(args.threads)
    try:
        django_start(args, server.url if server else "")
        desk_configure(args, url, model)
        kb = knowledge_load()
        target = f"{model} at {url}" if url else "the embedded model"
        if server is not None:
            from django.conf import settings

            target = f"{settings.LLM_EMBEDDED_MODEL} (embedded) at {server.url}"
            print(f"model server up {server.wait():.1f} s after start")
        if not args.no_warmup:
            warm_up()
        load = os.getloadavg()[0]
        print(f"{len(items)} questions to {target}; load average {load:.1f}")
        tag = uuid.uuid4().hex[:8]
        rows = []
        for index, item in enumerate(items, 1):
            outcome = ask(item, conversation_new(tag, index))
            verdict = judge(item, text=outcome["text"], handed_over=bool(outcome["handed_over"]), kb=kb)
            row = Row(item=item, outcome=outcome, verdict=verdict)
            rows.append(row)
            print(f"{index:3d} {row.line()}", flush=True)
        memory = server.memory_mb() if server is not None else {}
    finally:
        if server is not None:
            server.stop()
        if peer is not None:
            peer.proc.stop()
    text, summary = report(rows, memory=memory)
    print(text)
    summary.update(target=target, load_before=load, load_after=os.getloadavg()[0], limit=args.limit)
    if args.json:
        records = [row.record() for row in rows]
        args.json.write_text(json.dumps({"summary": summary, "answers": records}, ensure_ascii=False, indent=1))
        print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
