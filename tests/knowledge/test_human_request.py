"""The default human-request detector (apps/knowledge/human_request.py): the shipped examples, the
short forms, an admin's edit reaching the process, and the phrase list when the model is missing.
Real sentence model, real Postgres and Redis."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.conversations.pipeline import get_human_request_detector
from apps.conversations.services import asks_for_human
from apps.knowledge.human_request import ExampleDetector
from apps.knowledge.models import HumanRequestExample
from apps.knowledge.selectors import human_request_version
from tests.support.human_request import example_detector


@pytest.fixture(autouse=True)
def _examples(db: None, settings: Any) -> Iterator[None]:
    with example_detector(settings):
        yield


def test_an_ordinary_request_asks_and_a_question_about_staff_does_not() -> None:
    detector = get_human_request_detector()

    request = detector.asks(text="帮我接一下真人")
    question = detector.asks(text="你们人工客服几点下班？")

    assert (request.asks, request.route) == (True, "semantic")
    assert (question.asks, question.route) == (False, "semantic")
    assert request.score is not None
    assert question.score is not None
    assert question.score < request.score
    assert asks_for_human("帮我接一下真人")
    assert not asks_for_human("你们人工客服几点下班？")


def test_a_short_form_asks_without_being_scored(settings: Any) -> None:
    detector = get_human_request_detector()
    assert detector.asks(text="我要转 人工！！") == detector.asks(text="人工人工")
    assert detector.asks(text="我要转 人工！！").route == "phrase"
    assert detector.asks(text="我要转 人工！！").score is None

    settings.DESK_HUMAN_REQUEST_PHRASES = ["呼叫小二"]

    assert detector.asks(text="呼叫小二！").route == "phrase"
    assert detector.asks(text="呼叫小二！").asks


def test_a_long_message_naming_nobody_is_not_encoded() -> None:
    text = (
        "我上周三在你们店里买了一件羽绒服，收到以后发现袖口有一点脱线，拉链也不太顺滑，"
        "想问一下这种情况可以换货吗？还是只能退货？运费怎么算？"
    )
    assert len(text) > 60

    decided = get_human_request_detector().asks(text=text)

    assert (decided.asks, decided.route, decided.score) == (False, "", None)


def test_an_example_added_in_the_admin_changes_the_decision(
    client: Client, admin_user: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    detector = get_human_request_detector()
    before = detector.asks(text="呼叫小二！")
    nearby = detector.asks(text="帮我叫下小二")
    version = human_request_version()
    assert not before.asks
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/knowledge/humanrequestexample/add/",
            {"text": "呼叫小二", "kind": "positive", "enabled": "on", "note": "淘宝老顾客的说法"},
        )

    assert response.status_code == 302
    assert HumanRequestExample.objects.get(text="呼叫小二").kind == HumanRequestExample.Kind.POSITIVE
    assert human_request_version() != version
    after = detector.asks(text="呼叫小二！")
    assert (after.asks, after.route) == (True, "phrase")
    # The classifier was refitted too: a message like the new example scores higher than before.
    refitted = detector.asks(text="帮我叫下小二")
    assert refitted.score is not None
    assert nearby.score is not None
    assert refitted.score > nearby.score


def test_a_disabled_example_stops_counting(django_capture_on_commit_callbacks: Callable[..., Any]) -> None:
    from apps.knowledge import services

    with django_capture_on_commit_callbacks(execute=True):
        services.human_request_example_save(example=HumanRequestExample(text="呼叫小二", kind="positive"))
    assert get_human_request_detector().asks(text="呼叫小二").asks

    with django_capture_on_commit_callbacks(execute=True):
        services.human_request_examples_set_enabled(
            examples=list(HumanRequestExample.objects.filter(text="呼叫小二")), enabled=False
        )

    assert not get_human_request_detector().asks(text="呼叫小二").asks


def test_without_the_model_the_phrase_list_decides(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.KNOWLEDGE_MODEL = "/nonexistent/model"
    detector = ExampleDetector()

    assert detector.asks(text="请帮我转人工客服处理一下").asks
    assert detector.asks(text="请帮我转人工客服处理一下").route == "phrase"
    assert not detector.asks(text="帮我接一下真人").asks  # what only the model would find
    assert "the phrase list decides" in caplog.text
