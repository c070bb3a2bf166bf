"""Export benchmark: 1M messages to CSV and XLSX through the real export code, in flat memory.

Generates N messages with one INSERT ... SELECT generate_series into a database of its own
(desk_bench_export; kept between runs, regenerated only when the row count differs), then runs
each export in a fresh child process through apps.reports.services.export_file_write, the code
the export task runs. For each it prints wall time, the child's peak RSS and its RSS just before
the export (Django loaded), for the whole range and for a tenth of it: memory that stays flat
while rows grow tenfold is memory that does not hold rows. Baseline: Postgres's own
`COPY (same query) TO STDOUT`, the floor for reading these rows. Every file is checked: the CSV is
parsed to the last row, the XLSX passes its zip CRCs and openpyxl reads its header and row count.

    python bench/export.py [--rows 1000000] [--formats csv,xlsx]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

DB_NAME = "desk_bench_export"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
DAYS = 30
CONVERSATIONS_PER_ROW = 10  # one conversation per 10 messages
TZ = ZoneInfo(os.environ.get("DJANGO_TIME_ZONE", "Asia/Shanghai"))  # the desk's days


def first_day() -> date:
    return datetime.now(TZ).date() - timedelta(days=DAYS)


def midnight(day: date) -> str:
    return datetime.combine(day, dtime.min, tzinfo=TZ).isoformat()


def child_env() -> dict[str, str]:
    return harness.django_child_env(DB_NAME)


def pg(dbname: str = DB_NAME) -> psycopg.Connection:
    return psycopg.connect(f"{PG_DSN} dbname={dbname}", autocommit=True)


def prepare(rows: int) -> None:
    with pg("postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=child_env(), check=True
    )
    with pg() as conn:
        have = conn.execute("SELECT count(*), min(created_at) FROM conversations_message").fetchone()
        if have is not None and have[0] == rows and have[1] == datetime.fromisoformat(midnight(first_day())):
            print(f"reusing {rows:,} generated messages in {DB_NAME}")
            return
    started = time.monotonic()
    subprocess.run([sys.executable, __file__, "--generate", str(rows)], cwd=ROOT, env=child_env(), check=True)
    print(f"generated {rows:,} messages in {time.monotonic() - started:.1f} s")


BODY_POOL = [f'第{n}条消息: 您好，请问退货要几天？ "quoted", with a comma' for n in range(64)]


def generate(rows: int) -> None:
    """In the child (Django set up): fill the tables with one INSERT ... SELECT each."""
    import django

    django.setup()
    from django.db import connection

    from apps.conversations.models import Message
    from apps.core.crypto import encrypt

    conversations = max(1, rows // CONVERSATIONS_PER_ROW)
    context = Message._meta.get_field("body").crypto_context
    bodies = ",".join(f"'{encrypt(text, context=context)}'" for text in BODY_POOL)
    # Rows spread evenly over the DAYS local days before today.
    start = f"'{midnight(first_day())}'::timestamptz"
    # Known columns get generated values; any column added later gets its field default (or NULL),
    # so the bench keeps working as the model grows.
    known = {
        "conversation_id": f"1 + (i % {conversations})",
        "channel": "(ARRAY['simulator','official_account','wecom_kf','wechaty'])[1 + i % 4]",
        "direction": "CASE WHEN i % 2 = 0 THEN 'in' ELSE 'out' END",
        "author_kind": "CASE WHEN i % 2 = 0 THEN 'customer' WHEN i % 20 = 1 THEN 'agent' ELSE 'bot' END",
        # Bodies are encrypted at rest: a pool of real ciphertexts, so the export pays for decryption.
        "body": f"(ARRAY[{bodies}])[1 + i % {len(BODY_POOL)}]",
        "status": "CASE WHEN i % 2 = 0 THEN 'answered' ELSE 'delivered' END",
        "created_at": f"{start} + (i * interval '{DAYS * 86400} seconds' / {rows})",
        "status_changed_at": f"{start} + (i * interval '{DAYS * 86400} seconds' / {rows})",
        "answer_ms": "CASE WHEN i % 2 = 1 THEN 500 + i % 4000 END",
        "answer_meta": (
            "CASE WHEN i % 2 = 1 THEN jsonb_build_object('endpoint', 'gpu-' || i % 3, 'ttft_ms', 100 + i % 900,"
            " 'tokens_in', 300, 'tokens_out', 40 + i % 60, 'source', 'llm') ELSE '{}'::jsonb END"
        ),
    }
    columns: list[str] = []
    expressions: list[str] = []
    params: list[Any] = []
    for field in Message._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(str(field.column))
        if field.column in known:
            expressions.append(known[field.column].replace("%", "%%"))  # modulo, not a placeholder
        elif field.null:
            expressions.append("NULL")
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE conversations_message, conversations_conversation, conversations_customer "
            "RESTART IDENTITY CASCADE"
        )
        cursor.execute(
            "INSERT INTO conversations_customer (channel, external_id, display_name, created_at, updated_at) "  # noqa: S608 (fixed SQL, numbers we made)
            f"SELECT 'simulator', 'c' || i, '客户' || i, now(), now() FROM generate_series(1, {conversations}) i"
        )
        cursor.execute(
            "INSERT INTO conversations_conversation (customer_id, channel, mode, created_at, updated_at, closed_at) "  # noqa: S608 (fixed SQL, numbers we made)
            f"SELECT i, 'simulator', 'closed', {start}, now(), now() FROM generate_series(1, {conversations}) i"
        )
        cursor.execute(
            f"INSERT INTO conversations_message ({', '.join(columns)}) "  # noqa: S608 (fixed columns)
            f"SELECT {', '.join(expressions)} FROM generate_series(0, {rows - 1}) i",
            params,
        )
        cursor.execute("ANALYZE conversations_message")


def export_child(fmt: str, days: int, out: str) -> None:
    """In a fresh process: set Django up, note RSS, export, print figures as JSON."""
    import django

    django.setup()
    import psutil

    from apps.reports.selectors import ReportRange
    from apps.reports.services import export_file_write

    r = ReportRange(date_from=first_day(), date_to=first_day() + timedelta(days=days - 1))
    rss_before = psutil.Process().memory_info().rss
    started = time.monotonic()
    written = export_file_write(path=Path(out), fmt=fmt, r=r)
    elapsed = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": written, "seconds": elapsed, "rss_before": rss_before, "peak_rss": peak}))


def copy_baseline(days: int) -> tuple[int, float]:
    """Postgres streaming the same rows as CSV to us, with nothing done to them."""
    query = (
        "COPY (SELECT m.id, m.created_at, m.conversation_id, m.channel, m.direction, m.author_kind, u.username,"  # noqa: S608 (fixed SQL, numbers we made)
        " m.status, m.answer_ms, m.answer_meta->'endpoint', m.answer_meta->'ttft_ms', m.answer_meta->'tokens_in',"
        " m.answer_meta->'tokens_out', m.body FROM conversations_message m LEFT JOIN auth_user u ON u.id = m.author_id"
        f" WHERE m.created_at >= '{midnight(first_day())}'"
        f" AND m.created_at < '{midnight(first_day() + timedelta(days=days))}' ORDER BY m.id)"
        " TO STDOUT WITH CSV"
    )
    started = time.monotonic()
    size = 0
    with pg() as conn, conn.cursor() as cursor, cursor.copy(query) as copy:  # type: ignore[arg-type,unused-ignore]
        for block in copy:
            size += len(block)
    return size, time.monotonic() - started


def check_csv(path: Path, expected: int) -> None:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        count = sum(1 for row in reader if len(row) == len(header))
    if header[0] != "id" or count != expected:
        raise SystemExit(f"invalid CSV: header {header[:2]}, {count} rows, expected {expected}")


def check_xlsx(path: Path, expected: int) -> None:
    """Zip CRCs, openpyxl opens it and reads the first rows, and every sheet parses as XML to the end."""
    import xml.etree.ElementTree as ET

    import openpyxl

    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None, "corrupt member"
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/"))
        rows = 0
        for name in sheets:
            with archive.open(name) as handle:
                for _, element in ET.iterparse(handle):  # noqa: S314
                    if element.tag.endswith("}row"):
                        rows += 1
                        element.clear()
    book = openpyxl.load_workbook(path, read_only=True)
    first = list(book.worksheets[0].iter_rows(min_row=1, max_row=100, values_only=True))
    book.close()
    data_rows = rows - len(sheets)  # a header row on each sheet
    if first[0][0] != "id" or not isinstance(first[1][0], int) or data_rows != expected:
        raise SystemExit(f"invalid XLSX: header {first[0][:2]}, {data_rows} rows, expected {expected}")


def run_export(fmt: str, days: int, tmp: Path) -> dict[str, float]:
    out = tmp / f"export-{days}d.{fmt}"
    result = subprocess.run(
        [sys.executable, __file__, "--child", fmt, str(days), str(out)],
        cwd=ROOT,
        env=child_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    started = time.monotonic()
    (check_csv if fmt == "csv" else check_xlsx)(out, int(figures["rows"]))
    figures["check_seconds"] = time.monotonic() - started
    figures["bytes"] = out.stat().st_size
    out.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("FMT", "DAYS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
        return
    if args.child:
        export_child(args.child[0], int(args.child[1]), args.child[2])
        return

    prepare(args.rows)
    mb = 1024 * 1024
    print(f"\n{'export':<22}{'rows':>10}{'time':>9}{'rows/s':>10}{'peak RSS':>10}{'RSS before':>12}{'file':>9}")
    with tempfile.TemporaryDirectory(prefix="desk-bench-export-") as tmp:
        for days in (DAYS // 10, DAYS):  # a tenth of the rows, then all
            size, seconds = copy_baseline(days)
            print(f"{'COPY TO STDOUT (floor)':<22}{'':>10}{seconds:>8.1f}s{'':>10}{'':>10}{'':>12}{size / mb:>7.0f}MB")
            for fmt in args.formats.split(","):
                f = run_export(fmt, days, Path(tmp))
                print(
                    f"{fmt + f' ({days} days)':<22}{int(f['rows']):>10,}{f['seconds']:>8.1f}s"
                    f"{f['rows'] / f['seconds']:>10,.0f}{f['peak_rss'] / mb:>8.0f}MB{f['rss_before'] / mb:>10.0f}MB"
                    f"{f['bytes'] / mb:>7.0f}MB   valid ({f['check_seconds']:.1f} s to check)"
                )


if __name__ == "__main__":
    main()
