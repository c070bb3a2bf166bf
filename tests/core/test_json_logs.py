"""JSON log lines carry the request id (taken from the proxy or made up) and any ids passed as extra."""

import json
import logging
import sys
from collections.abc import Iterator

import pytest
from django.test import Client

from apps.core.logs import JsonFormatter, request_id_var


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    handler = _Capture()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_log_line_of_a_request_carries_its_request_id(db: None, captured: _Capture) -> None:
    response = Client().get("/no-such-page/", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-42"
    (line,) = [json.loads(x) for x in captured.lines]
    assert line["request_id"] == "req-42"
    assert line["level"] == "WARNING"
    assert line["logger"] == "django.request"
    assert "/no-such-page/" in line["msg"]


def test_a_request_without_an_id_gets_one(db: None) -> None:
    assert len(Client().get("/healthz")["X-Request-ID"]) == 32


def test_extra_ids_and_exceptions_are_fields_of_the_line() -> None:
    token = request_id_var.set("")  # outside any request
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.getLogger("x").makeRecord(
                "x", logging.ERROR, __file__, 1, "message %s failed", (7,), sys.exc_info(), extra={"message_id": 7}
            )
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "message 7 failed"
    assert line["message_id"] == 7
    assert "request_id" not in line
    assert "ValueError: boom" in line["exc"]
