"""Schemathesis fuzzes every ninja route (schema generated in process) through Django's WSGI
handler, with a valid bearer token for the inbound API. Whatever it sends, no 500."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings

from apps.core.services import api_token_create
from project.api import api

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = WSGIHandler()


@pytest.fixture
def bearer(db: None) -> Iterator[dict[str, str]]:
    # Like Django's test client: a request must not close the connection that holds the test's
    # transaction (close_old_connections would, autocommit being off inside it).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        issued = api_token_create(name="fuzz", scopes=["inbound"], created_by_id=None)
        yield {"Authorization": f"Bearer {issued.plaintext}"}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    # The transaction-scoped DB fixture is meant to be shared by the examples of one operation.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_makes_the_api_answer_500(case: Any, bearer: dict[str, str]) -> None:
    with transaction.atomic():  # one savepoint per example: a failed statement must not poison the next
        response = case.call(headers=bearer)
        if response.status_code >= 500:
            transaction.set_rollback(True)

    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:500]}"
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
