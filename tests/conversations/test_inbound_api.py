"""The inbound API refuses bad input with a clear 4xx and writes nothing."""

import json
from typing import Any

import pytest
from django.test import Client

from apps.conversations.models import Conversation, Customer, Message

URL = "/api/inbound/messages"
AUTH = {"Authorization": "Bearer test-inbound-token"}


def valid_payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "channel": "simulator",
        "channel_message_id": "m-1",
        "external_user_id": "cust-0001",
        "display_name": "张三",
        "text": "你好，请问怎么退货？",
    }
    payload.update(overrides)
    return payload


def post_raw(client: Client, body: bytes) -> Any:
    return client.generic("POST", URL, body, content_type="application/json", headers=AUTH)


def assert_nothing_written() -> None:
    assert Message.objects.count() == 0
    assert Conversation.objects.count() == 0
    assert Customer.objects.count() == 0


@pytest.mark.django_db
class TestBadInput:
    def test_it_names_the_missing_fields(self, client: Client) -> None:
        response = post_raw(client, json.dumps({"channel": "simulator"}).encode())
        assert response.status_code == 422
        fields = {error["field"] for error in response.json()["errors"]}
        assert {"channel_message_id", "external_user_id", "text"} <= fields
        assert_nothing_written()

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("text", 12345),
            ("text", ["list"]),
            ("channel_message_id", {"nested": True}),
            ("channel", "telegram"),
            ("external_user_id", ""),
            ("text", "   "),
            ("text", "a\x00b"),
        ],
    )
    def test_it_rejects_wrong_types_and_values(self, client: Client, field: str, value: object) -> None:
        response = post_raw(client, json.dumps(valid_payload(**{field: value})).encode())
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        assert_nothing_written()

    def test_it_refuses_a_one_megabyte_body_without_parsing_it(self, client: Client) -> None:
        body = json.dumps(valid_payload(text="长" * (1024 * 1024 // 3))).encode()
        assert len(body) >= 1024 * 1024
        response = post_raw(client, body)
        assert response.status_code == 413
        assert response.json() == {"detail": "request body is too large"}
        assert_nothing_written()

    def test_it_refuses_text_over_the_character_limit(self, client: Client, settings: object) -> None:
        response = post_raw(client, json.dumps(valid_payload(text="字" * 8001)).encode())
        assert response.status_code == 422
        assert "longer than 8000" in response.json()["errors"][0]["error"]
        assert_nothing_written()

    def test_it_refuses_invalid_utf8(self, client: Client) -> None:
        body = b'{"channel": "simulator", "text": "\xff\xfe bad"}'
        response = post_raw(client, body)
        assert response.status_code == 400
        assert "not valid UTF-8" in response.json()["detail"]
        assert_nothing_written()

    def test_it_refuses_malformed_json(self, client: Client) -> None:
        response = post_raw(client, b'{"channel": "simulator",')
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["detail"]
        assert_nothing_written()

    def test_it_refuses_a_json_array(self, client: Client) -> None:
        response = post_raw(client, b"[1, 2]")
        assert response.status_code == 400
        assert response.json()["detail"] == "the request body must be a JSON object"
        assert_nothing_written()

    @pytest.mark.parametrize("header", ["", "Bearer wrong-token", "Basic dGVzdDp0ZXN0"])
    def test_it_rejects_a_missing_or_wrong_token(self, client: Client, header: str) -> None:
        headers = {"Authorization": header} if header else {}
        response = client.post(URL, valid_payload(), content_type="application/json", headers=headers)
        assert response.status_code == 401
        assert_nothing_written()


@pytest.mark.django_db
def test_a_valid_message_is_accepted_and_a_redelivery_is_flagged_duplicate(client: Client) -> None:
    first = post_raw(client, json.dumps(valid_payload()).encode())
    again = post_raw(client, json.dumps(valid_payload()).encode())

    assert first.status_code == 202
    assert first.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_an_issued_token_with_the_inbound_scope_is_accepted_and_a_revoked_one_is_not(client: Client) -> None:
    from apps.core.services import api_token_create, api_token_revoke

    issued = api_token_create(name="bridge-1", scopes=["inbound"], created_by_id=None)
    headers = {"Authorization": f"Bearer {issued.plaintext}"}

    accepted = client.post(URL, valid_payload(), content_type="application/json", headers=headers)
    api_token_revoke(token=issued.token)
    refused = client.post(
        URL, valid_payload(channel_message_id="m-2"), content_type="application/json", headers=headers
    )

    assert accepted.status_code == 202
    assert refused.status_code == 401
