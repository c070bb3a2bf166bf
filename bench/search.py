"""Search benchmark: the keyed blind index over 1M encrypted messages (apps/console/search.py).

Builds N customer-service messages (bench/search_corpus.py: Chinese and English, customer and bot)
into a database of its own, once: bodies encrypted with AES-256-GCM and their index terms
computed in Python by two processes, loaded with COPY, the GIN index built after the load; a
second run reuses them while the row count and the search key match. Then, through the selector
the inbox calls (``search(kinds=("message",), limit=50)``: candidates newest first, decrypted and
confirmed), P50/P95/max over --queries queries each of a two-character and a six-character Chinese
phrase and an English word (and, for the GIN path, order numbers that occur once); the index's
size per message; and the write path's extra cost, the
index terms against the AES-GCM encryption of the same bodies, in the same process.

    python bench/search.py [--rows 1000000] [--queries 50] [--db desk_bench_search]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness, search_corpus  # noqa: E402

PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
CHUNK = 20_000
MESSAGES_PER_CONVERSATION = 10
DAYS = 180
END = datetime(2026, 11, 1, tzinfo=UTC)
COLUMNS = "id, conversation_id, channel, direction, author_kind, body, search_index, created_at"


def prepare(db: str) -> None:
    with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{db}"')
    env = harness.django_child_env(db)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def _chunk(args: tuple[int, int, int]) -> tuple[str, int]:
    """In a pool worker: COPY lines for messages [start, start + count) of ``rows``, and their terms."""
    from apps.conversations.models import Message
    from apps.core import blind_index, crypto

    start, count, rows = args
    context = Message._meta.get_field("body").crypto_context
    key = blind_index.search_key()
    rng = search_corpus.random.Random(start)
    lines, terms = [], 0
    step = timedelta(days=DAYS) / rows
    for i in range(start, start + count):
        customer = i % 2 == 0
        text = search_corpus.sentence(rng, customer)
        index = blind_index.index_terms(text, key=key)
        terms += len(index)
        at = END - timedelta(days=DAYS) + step * i
        lines.append(
            f"{i + 1}\t{1 + i // MESSAGES_PER_CONVERSATION}\tsimulator\t{'in' if customer else 'out'}\t"
            f"{'customer' if customer else 'bot'}\t{crypto.encrypt(text, context=context)}\t"
            f"{{{','.join(map(str, index))}}}\t{at.isoformat()}\n"
        )
    return "".join(lines), terms


def _key_mark() -> str:
    from apps.core import blind_index

    return hashlib.sha256(blind_index.search_key()).hexdigest()[:16]


def generate(rows: int) -> None:
    """Fill conversations_message (and its customers and conversations) unless it is there already."""
    from django.db import connection
    from tqdm import tqdm

    from apps.conversations.models import Message
    from apps.core import blind_index

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_search_meta (rows bigint, key_mark text)")
        cursor.execute("SELECT rows, key_mark FROM bench_search_meta")
        if cursor.fetchone() == (rows, _key_mark()):
            print(f"reusing {rows:,} messages")
            return
    conversations = (rows + MESSAGES_PER_CONVERSATION - 1) // MESSAGES_PER_CONVERSATION
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE bench_search_meta, conversations_message, conversations_conversation, "
            "conversations_customer RESTART IDENTITY CASCADE"
        )
        rng = search_corpus.random.Random(0)
        names = [search_corpus.name(rng) for _ in range(conversations)]
        customers = [
            (f"c{i}", n, "{" + ",".join(map(str, blind_index.index_terms(n))) + "}") for i, n in enumerate(names)
        ]
        with cursor.cursor.copy(
            "COPY conversations_customer (channel, external_id, display_name, search_index, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for external_id, display, index in customers:
                copy.write_row(("simulator", external_id, display, index, END, END))
        cursor.execute(
            "INSERT INTO conversations_conversation (customer_id, channel, mode, created_at, updated_at, end_reason)"  # noqa: S608 (numbers we made)
            f" SELECT i, 'simulator', 'closed', %s, %s, '' FROM generate_series(1, {conversations}) i",
            [END, END],
        )
        cursor.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS bench_search_stage (id bigint, conversation_id bigint, channel text,"
            " direction text, author_kind text, body text, search_index int4[], created_at timestamptz)"
        )
        cursor.execute("TRUNCATE bench_search_stage")
        cursor.execute("DROP INDEX IF EXISTS message_search_index")
        chunks = [(start, min(CHUNK, rows - start), rows) for start in range(0, rows, CHUNK)]
        terms = 0
        with (
            Pool(2) as pool,
            cursor.cursor.copy(f"COPY bench_search_stage ({COLUMNS}) FROM STDIN") as copy,
            tqdm(total=rows, unit="msg", desc="encrypt + index + COPY") as bar,
        ):
            for lines, count in pool.imap(_chunk, chunks):
                copy.write(lines)
                terms += count
                bar.update(lines.count("\n"))
        # Columns the bench does not set get their field default, so it keeps working as the model grows.
        known = {c.strip(): c.strip() for c in COLUMNS.split(",")}
        known |= {"status": "CASE WHEN direction = 'in' THEN 'answered' ELSE 'delivered' END",
                  "status_changed_at": "created_at"}  # fmt: skip
        columns, expressions, params = [], [], []
        for field in Message._meta.concrete_fields:
            columns.append(str(field.column))
            if field.column in known:
                expressions.append(known[field.column])
            elif field.null:
                expressions.append("NULL")
            else:
                expressions.append("%s")
                params.append(field.get_db_prep_save(field.get_default(), connection))
        cursor.execute(
            f"INSERT INTO conversations_message ({', '.join(columns)}) "  # noqa: S608 (fixed columns)
            f"SELECT {', '.join(expressions)} FROM bench_search_stage ORDER BY id",
            params,
        )
        cursor.execute("SELECT setval('conversations_message_id_seq', %s)", [rows])
        cursor.execute("DROP TABLE bench_search_stage")
        loaded = time.monotonic()
        cursor.execute("CREATE INDEX message_search_index ON conversations_message USING gin (search_index)")
        built = time.monotonic()
        cursor.execute("INSERT INTO bench_search_meta VALUES (%s, %s)", [rows, _key_mark()])
    connection.close()
    with psycopg.connect(f"{PG_DSN} dbname={connection.settings_dict['NAME']}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE conversations_message")
        conn.execute("VACUUM ANALYZE conversations_customer")
    print(
        f"generated {rows:,} messages ({terms / rows:.1f} index terms each) in {loaded - started:.0f} s; "
        f"GIN index built in {built - loaded:.0f} s; vacuum + analyze {time.monotonic() - built:.0f} s"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(queries: int) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from apps.console.search import search
    from apps.conversations.models import Message

    user, _ = User.objects.get_or_create(username="bench-search", defaults={"is_staff": True, "is_superuser": True})
    # Order numbers from older messages: one hit each, past the newest ids, so the GIN index finds them.
    older = Message.objects.filter(id__lte=Message.objects.count() // 2).order_by("-id")
    numbers = [m.group() for body in older.values_list("body", flat=True)[:3000] if (m := re.search(r"\d{12}", body))]
    groups = {
        "2-character Chinese": search_corpus.TWO_CHAR,
        "6-character Chinese": search_corpus.SIX_CHAR,
        "English word": search_corpus.ENGLISH_WORDS,
        "order number (rare)": numbers[: max(queries, 1)],
    }
    for pool in groups.values():  # warm the caches the way a running desk has them warm
        for text in pool:
            search(query=text, user=user, kinds=("message",), limit=50)
    print(f"\n{'query':<22} {'n':>4} {'P50 ms':>8} {'P95 ms':>8} {'max ms':>8} {'hits (mean)':>12}")
    for label, pool in groups.items():
        times, hits = [], []
        for n in range(queries):
            started = time.perf_counter()
            found = search(query=pool[n % len(pool)], user=user, kinds=("message",), limit=50)
            times.append((time.perf_counter() - started) * 1000)
            hits.append(len(found))
        print(
            f"{label:<22} {queries:>4} {percentile(times, 0.5):>8.1f} {percentile(times, 0.95):>8.1f}"
            f" {max(times):>8.1f} {statistics.mean(hits):>12.1f}"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), pg_relation_size('message_search_index'), avg(pg_column_size(search_index)),"
            " pg_total_relation_size('conversations_message') FROM conversations_message"
        )
        rows, gin, column, table = cursor.fetchone()
    print(
        f"\nindex size: GIN {gin / 2**20:.0f} MiB = {gin / rows:.0f} B/message; array column"
        f" {float(column):.0f} B/message; together {gin / rows + float(column):.0f} B/message"
        f" (the whole table with its indexes: {table / rows:.0f} B/message)"
    )


def write_cost(samples: int = 20_000) -> None:
    from apps.conversations.models import Message
    from apps.core import blind_index, crypto

    rng = search_corpus.random.Random(7)
    texts = [search_corpus.sentence(rng, i % 2 == 0) for i in range(samples)]
    context = Message._meta.get_field("body").crypto_context
    started = time.perf_counter()
    for text in texts:
        crypto.encrypt(text, context=context)
    encrypt = (time.perf_counter() - started) / samples
    started = time.perf_counter()
    for text in texts:
        blind_index.index_terms(text)
    index = (time.perf_counter() - started) / samples
    chars = statistics.mean(len(t) for t in texts)
    print(
        f"write cost per message ({chars:.0f} characters on average, {samples:,} messages): AES-GCM encryption"
        f" {encrypt * 1e6:.1f} µs, index terms {index * 1e6:.1f} µs ({index / encrypt:.1f}× the encryption)"
    )


def run(rows: int, queries: int) -> None:
    import django

    django.setup()
    generate(rows)
    write_cost()
    measure(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50, help="queries per kind (default 50)")
    parser.add_argument("--db", default="desk_bench_search", help="the bench's own database")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run(args.rows, args.queries)
        return
    prepare(args.db)
    child = [sys.executable, __file__, "--child", "--rows", str(args.rows), "--queries", str(args.queries)]
    subprocess.run(child, cwd=ROOT, env=harness.django_child_env(args.db), check=True)


if __name__ == "__main__":
    main()
