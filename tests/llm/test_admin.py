"""Admins edit the pool in the admin and see each endpoint's breaker; a health check runs from there."""

from collections.abc import Callable

import pytest
from django.test import Client

from apps.llm import selectors
from apps.llm.models import Endpoint, PromptSettings
from peers.openai_server import OpenAIServer


def test_the_endpoint_list_shows_each_breaker_state(
    admin_client: Client, openai_server: Callable[..., OpenAIServer], endpoint_for: Callable[..., Endpoint]
) -> None:
    endpoint_for(openai_server(), name="gpu-a")

    response = admin_client.get("/admin/llm/endpoint/")

    assert response.status_code == 200
    assert "gpu-a" in response.content.decode()
    assert "closed" in response.content.decode()


def test_the_health_check_action_reports_and_opens_the_breaker_of_a_sick_endpoint(
    admin_client: Client, openai_server: Callable[..., OpenAIServer], endpoint_for: Callable[..., Endpoint]
) -> None:
    sick = endpoint_for(openai_server(healthy=False), name="gpu-sick")

    response = admin_client.post(
        "/admin/llm/endpoint/", {"action": "check_health", "_selected_action": [sick.pk]}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["gpu-sick: /health answered 503"]
    assert selectors.endpoint_state(endpoint_id=sick.pk) == "open"


def test_an_admin_adds_an_endpoint_to_the_pool(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/llm/endpoint/add/",
        {
            "name": "gpu-new",
            "base_url": "http://10.0.0.5:8000",
            "model": "deepseek-r1",
            "api_key": "",
            "weight": 2,
            "enabled": "on",
            "connect_timeout_s": 3,
            "read_timeout_s": 60,
            "total_timeout_s": 120,
            "max_concurrency": 256,
        },
    )

    assert response.status_code == 302
    assert [e.name for e in selectors.endpoints_enabled()] == ["gpu-new"]


def _prompt_settings_form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "instructions": "你是客服。",
        "instructions_in_user_turn": "on",
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 1024,
        "context_turns": 5,
        "context_max_tokens": 2000,
    }
    return {**data, **changes}


def test_a_temperature_outside_the_seeds_band_asks_for_confirmation_and_says_why(admin_client: Client) -> None:
    row = PromptSettings.objects.create()

    response = admin_client.post(f"/admin/llm/promptsettings/{row.pk}/change/", _prompt_settings_form(temperature=1.2))

    assert response.status_code == 200  # the form again, with the reason on the field
    page = response.content.decode()
    assert "回复重复" in page
    assert "0.3-0.7" in page
    assert 'name="confirm_temperature"' in page
    row.refresh_from_db()
    assert row.temperature == 0.6


@pytest.mark.parametrize("temperature", [1.2, 0.1])
def test_a_confirmed_temperature_outside_the_band_is_saved(admin_client: Client, temperature: float) -> None:
    row = PromptSettings.objects.create()

    response = admin_client.post(
        f"/admin/llm/promptsettings/{row.pk}/change/",
        _prompt_settings_form(temperature=temperature, confirm_temperature="on"),
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.temperature == temperature


@pytest.mark.parametrize("temperature", [0.3, 0.5, 0.7])
def test_a_temperature_in_the_band_needs_no_confirmation(admin_client: Client, temperature: float) -> None:
    row = PromptSettings.objects.create()

    response = admin_client.post(
        f"/admin/llm/promptsettings/{row.pk}/change/", _prompt_settings_form(temperature=temperature)
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.temperature == temperature
