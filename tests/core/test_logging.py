"""The PII log filter on the lines each desk process really writes: Celery worker and beat, uvicorn,
Django, the desk's own loggers and the Wechaty bridge. Their ids, durations and timestamps pass
unchanged; a phone, ID or card number in the same lines is masked."""

import ast
import contextlib
import logging
import re
import subprocess
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from celery import beat
from celery.app import trace
from django.conf import settings
from django.test import Client

from apps.conversations import services as conversation_services
from apps.conversations.models import Message
from apps.conversations.tasks import sweep_stuck_messages
from apps.core.logging import PiiMaskingFilter, mask_pii
from project.celery import app as celery_app
from tests.support.processes import REPO, LiveProcess, free_port
from tests.support.waiting import wait_for

TASK_ID = "3f2a1b4c-9d8e-4f70-8a6b-5c4d3e2f1a0b"
SIGNATURE = "8d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a"  # sha1 hex, as WeChat signs callbacks


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # A copy as emitted: the desk's own handlers, further on, mask the record in place.
        self.records.append(logging.makeLogRecord(dict(record.__dict__)))


@contextlib.contextmanager
def captured(*names: str, level: int = logging.DEBUG) -> Iterator[list[logging.LogRecord]]:
    """Records of these loggers as their libraries emit them: attached to the loggers themselves
    (uvicorn's do not propagate), ahead of the desk's masking handler."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.handlers.insert(0, handler)
        logger.setLevel(level)
    try:
        yield handler.records
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(previous)


def filtered(record: logging.LogRecord) -> str:
    assert PiiMaskingFilter().filter(record)
    return record.getMessage()


def assert_unchanged(records: list[logging.LogRecord]) -> list[str]:
    assert records, "nothing was logged"
    lines = []
    for record in records:
        before = record.getMessage()
        assert filtered(record) == before
        lines.append(before)
    return lines


# --- Celery ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_task_run_by_celery_keeps_its_id_and_duration() -> None:
    with captured("celery.app.trace", level=logging.INFO) as records:
        sweep_stuck_messages.apply()

    (line,) = assert_unchanged(records)
    assert re.fullmatch(
        r"Task apps\.conversations\.tasks\.sweep_stuck_messages\[[0-9a-f-]{36}\] succeeded in \d+\.\d+(e-\d+)?s: "
        r"\{'requeued_inbound': 0, 'requeued_outbound': 0, 'given_up': 0\}",
        line,
    ), line


@pytest.mark.parametrize(
    ("fmt", "context"),
    [
        # The line of the report: celery's own format, the values.
        (trace.LOG_SUCCESS, {"runtime": 0.02479823749845, "return_value": "None"}),
        (trace.LOG_SUCCESS, {"runtime": 0.024798237498, "return_value": "None"}),
        (trace.LOG_SUCCESS, {"runtime": 1.3812345678901, "return_value": "None"}),
        (trace.LOG_SUCCESS, {"runtime": 2.4798237498e-05, "return_value": "None"}),
        (trace.LOG_RECEIVED, {}),
        (trace.LOG_RETRY, {"exc": "Retry in 2s: AnswerUnavailable('every endpoint is cooling down')"}),
        (
            trace.LOG_FAILURE,
            {
                "description": "raised unexpected",
                "exc": "OperationalError('connection to server at \"10.0.3.7\", port 5432 failed: timeout expired')",
            },
        ),
    ],
)
def test_celery_worker_lines_pass_unchanged(fmt: str, context: dict[str, Any]) -> None:
    full = {"id": TASK_ID, "name": "apps.conversations.tasks.process_inbound", "args": "(4172,)", "kwargs": "{}"}
    with captured("celery.app.trace") as records:
        trace.info(fmt, {**full, **context})  # how the worker emits them

    (line,) = assert_unchanged(records)
    assert f"[{TASK_ID}]" in line


def test_celery_beat_lines_pass_unchanged() -> None:
    class _Unsent(beat.Scheduler):
        def apply_async(self, entry: beat.ScheduleEntry, producer: Any = None, advance: bool = True, **_: Any) -> Any:
            return SimpleNamespace(id=str(uuid.uuid4()))

    scheduler = _Unsent(app=celery_app, lazy=True)
    entries: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    with captured("celery.beat") as records:
        for name, spec in entries.items():
            scheduler.apply_entry(
                beat.ScheduleEntry(name=name, task=spec["task"], schedule=spec["schedule"], app=celery_app)
            )

    lines = assert_unchanged(records)
    assert "Scheduler: Sending due task sweep-stuck-messages (apps.conversations.tasks.sweep_stuck_messages)" in lines
    assert any(
        re.fullmatch(r"apps\.conversations\.tasks\.sweep_stuck_messages sent\. id->[0-9a-f-]{36}", x) for x in lines
    )


@pytest.mark.live
def test_a_live_worker_writes_its_task_lines_unmasked(celery_worker_process: Callable[..., LiveProcess]) -> None:
    worker = celery_worker_process(
        DESK_LOG_LEVEL="INFO", DESK_MODERATOR="apps.conversations.placeholders.AllowAllModerator"
    )
    received = conversation_services.message_receive(
        channel="simulator",
        external_user_id="log1",
        display_name="",
        channel_message_id="log-1",
        body="电话13812345678",
    )
    wait_for(lambda: Message.objects.filter(reply_to=received.message, status="delivered").exists(), timeout=30)
    wait_for(lambda: "succeeded in" in worker.log(), timeout=10)

    task_lines = [line for line in worker.log().splitlines() if " Task apps." in line]
    assert any(
        re.search(
            r"Task apps\.conversations\.tasks\.process_inbound\[[0-9a-f-]{36}\] succeeded in \d+\.\d+(e-\d+)?s: None$",
            x,
        )
        for x in task_lines
    ), task_lines
    assert not [line for line in task_lines if "*" in line]
    assert "13812345678" not in worker.log()


# --- uvicorn -----------------------------------------------------------------------------------


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def uvicorn_url() -> Iterator[str]:
    # log_config=None: uvicorn would otherwise replace the handlers under test.
    server = uvicorn.Server(uvicorn.Config(_ok, port=free_port(), log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    with captured("uvicorn.error", "uvicorn.access", level=logging.INFO):  # levels only; records below
        thread.start()
        wait_for(lambda: server.started, timeout=10, what="uvicorn to start")
        yield f"http://127.0.0.1:{server.config.port}"
        server.should_exit = True
        thread.join(timeout=10)


def test_uvicorn_access_lines_keep_ids_and_timestamps_and_mask_a_phone(uvicorn_url: str) -> None:
    callback = (
        f"/wechat/oa/wx5f1c8e3a9b7d2c01/?signature={SIGNATURE}&timestamp=1764248734&nonce=1234567890"
        f"&openid=oR5Gj6_3kBQ2vFd9sL0xY1zW8uTc&encrypt_type=aes&msg_signature={SIGNATURE}"
    )
    with captured("uvicorn.access", level=logging.INFO) as records:
        httpx.post(uvicorn_url + callback, content=b"<xml/>", timeout=5)
        httpx.get(f"{uvicorn_url}/api/simulator/messages?customer_id=sim-{TASK_ID}&after=1764248734123", timeout=5)
        httpx.get(f"{uvicorn_url}/healthz", timeout=5)
        wait_for(lambda: len(records) == 3, timeout=5)
        lines = assert_unchanged(list(records))
        assert re.fullmatch(r'127\.0\.0\.1:\d+ - "POST ' + re.escape(callback) + r' HTTP/1\.1" 200', lines[0]), lines[0]

        records.clear()
        httpx.get(f"{uvicorn_url}/simulator/?phone=13812345678&after=1764248734123", timeout=5)
        wait_for(lambda: len(records) == 1, timeout=5)
    assert re.fullmatch(
        r'127\.0\.0\.1:\d+ - "GET /simulator/\?phone=138\*\*\*\*5678&after=1764248734123 HTTP/1\.1" 200',
        filtered(records[0]),
    )


@pytest.mark.live
def test_a_live_web_process_masks_its_access_lines_through_the_desk_handler(live_env: dict[str, str]) -> None:
    from tests.support.processes import start_asgi_server

    web = start_asgi_server({**live_env, "DESK_LOG_LEVEL": "INFO"}, port=free_port())
    try:
        httpx.get(f"{web.url}/healthz?phone=13812345678&timestamp=1764248734", timeout=5)
        wait_for(lambda: "phone=" in web.log(), timeout=5)
    finally:
        web.stop()
    access = [line for line in web.log().splitlines() if " uvicorn.access " in line]
    assert any(
        re.search(r'127\.0\.0\.1:\d+ - "GET /healthz\?phone=138\*\*\*\*5678&timestamp=1764248734 HTTP/1\.1" 200$', x)
        for x in access
    ), access
    assert "13812345678" not in web.log()


# --- Django ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_django_request_lines_pass_unchanged_unless_a_path_holds_a_phone() -> None:
    with captured("django.request", "django.security.DisallowedHost") as records:
        Client().get(f"/no-such-page/{TASK_ID}/?after=1764248734123")
        Client().get("/healthz", HTTP_HOST="10.0.3.7:8000")
        lines = assert_unchanged(list(records))
        assert lines == [
            f"Not Found: /no-such-page/{TASK_ID}/",
            "Invalid HTTP_HOST header: '10.0.3.7:8000'. You may need to add '10.0.3.7' to ALLOWED_HOSTS.",
        ]
        records.clear()
        Client().get("/customers/13812345678/")
    assert filtered(records[0]) == "Not Found: /customers/138****5678/"


# --- the desk's own lines and the Wechaty bridge ------------------------------------------------

_LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?([sdrifx%])")
# Values the desk's lines really carry: ids, task and stream ids, channel ids, durations, times.
_SAMPLES: dict[str, list[Any]] = {
    "s": [
        4172,
        TASK_ID,
        "wx5f1c8e3a9b7d2c01:24567891234567890",
        "7283947298347293847",
        "1764248734123-0",
        "2026-11-27T10:45:34.123456+08:00",
        "ConnectionError('timed out after 0.024798237498s')",
        f"desk answered 503: upstream {SIGNATURE}",
    ],
    "d": [4172, 1764248734, 1764248734123],
    "i": [4172, 1764248734123],
    "f": [0.02479823749845, 1764248734.1234567, 12.0],
    "x": [0x3F2A1B4C],
}


def desk_log_formats() -> list[tuple[str, str]]:
    """(where, format) of every logger call with a literal format in the desk and the bridge."""
    found = []
    for folder in ("apps", "project", "workers"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in _LOG_METHODS
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("logger", "log")
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    found.append((f"{path.relative_to(REPO)}:{node.lineno}", node.args[0].value))
    return found


def test_every_desk_and_bridge_log_line_passes_unchanged_with_realistic_values() -> None:
    formats = desk_log_formats()
    assert len(formats) >= 40, formats
    assert any(where.startswith("workers/wechaty_bridge/") for where, _ in formats)
    for where, fmt in formats:
        kinds = [k for k in _CONVERSION.findall(fmt) if k != "%"]
        for i in range(max(len(v) for v in _SAMPLES.values())):
            args = tuple(_SAMPLES["s" if k == "r" else k][i % len(_SAMPLES["s" if k == "r" else k])] for k in kinds)
            record = logging.LogRecord("desk", logging.INFO, where, 1, fmt, args or None, None)
            before = record.getMessage()
            assert filtered(record) == before, where


def test_the_bridge_masks_its_lines_with_the_desks_filter() -> None:
    bridge_python = REPO / ".venv-bridge" / "bin" / "python"
    if not bridge_python.exists():
        pytest.fail(f"{bridge_python} is missing: `make install` creates the bridge's virtualenv")
    script = textwrap.dedent(
        """
        import logging
        from workers.wechaty_bridge.__main__ import logging_configure
        logging_configure()
        log = logging.getLogger("wechaty_bridge")
        log.warning("desk did not take message %s (%s); retrying in %.1fs", "4111111111111111", "503", 2.0)
        log.error("desk refused message %s: %s", "7283947298347293847", "desk refused (422): 手机13812345678")
        """
    )
    result = subprocess.run(
        [str(bridge_python), "-c", script], cwd=REPO, capture_output=True, text=True, timeout=30, check=True
    )
    lines = [line.split(": ", 1)[1] for line in result.stderr.splitlines()]
    assert lines == [
        "desk did not take message 4111111111111111 (503); retrying in 2.0s",
        "desk refused message 7283947298347293847: desk refused (422): 手机138****5678",
    ]


# --- what is masked ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (
            '127.0.0.1:54321 - "GET /api/simulator/messages?customer_id=13812345678&after=1764248734123 HTTP/1.1" 200',
            '127.0.0.1:54321 - "GET /api/simulator/messages?customer_id=138****5678&after=1764248734123 HTTP/1.1" 200',
        ),
        (
            f"Task apps.conversations.tasks.deliver[{TASK_ID}] raised unexpected: ValueError('ID 11010519491231002X')",
            f"Task apps.conversations.tasks.deliver[{TASK_ID}] raised unexpected: ValueError('ID 110105********002X')",
        ),
        (
            "message 4172 handed to a human: 客户留了 +86 138-1234-5678",
            "message 4172 handed to a human: 客户留了 +86 138-****-5678",
        ),
        ("客户: 我的电话 138 1234 5678，0086 13912345678", "客户: 我的电话 138 **** 5678，0086 139****5678"),
        ("phone:13812345678 / tel 8613812345678", "phone:138****5678 / tel 86138****5678"),
        ("desk refused message 42: 卡号 6222 0212 3456 7890 128", "desk refused message 42: 卡号 6222********0128"),
        ("card=4111-1111-1111-1111.", "card=4111********1111."),
        ("ID 110105 19491231 002X", "ID 110105********002X"),
    ],
)
def test_personal_numbers_in_real_lines_are_masked(line: str, masked: str) -> None:
    assert mask_pii(line) == masked


@pytest.mark.parametrize(
    "line",
    [
        "succeeded in 0.02479823749845s",  # the issue: a duration
        "Task x[3f2a1b4c-1381-2345-6789-013812345678] received",  # a UUID of digits
        "epoch 1764248734 ms 1764248734123 us 1764248734123456 ns 1764248734123456789",
        "at 2026-11-27T10:45:34.123456+08:00, 20261127104534123",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 md5 13812345678901234567890123456789",
        "signature=13812345678abcdef0123456789abcdef0123456 stream 1764248734123-0",
        "wx5f1c8e3a9b7d2c01:24567891234567890 wx5f1c8e3a9b7d2c01:4111111111111111",
        "message 4111111111111111 could not be handled; msgid=6222021234567890128",
        "version 1.13812345678 and 13812345678.5 yuan",
        "redis://127.0.0.1:6379/13 postgres 10.0.3.7:5432 pid 1381234",
        "19-digit 6222021234567890123 fails Luhn; 18-digit 110105194913310021 has no such date",
        "order ORD-13812345678 and user_13812345678",
    ],
)
def test_ids_times_and_numbers_that_only_look_personal_are_kept(line: str) -> None:
    assert mask_pii(line) == line
