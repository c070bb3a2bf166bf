"""The seed's context-switch metric (上下文切换次数): each process's context switches, and
conversation mode switches counted once their change is committed."""

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from apps.conversations.models import Conversation, ConversationEvent
from apps.conversations.services.modes import conversation_mode_record
from tests.factories import ConversationFactory


def test_the_process_reports_its_voluntary_and_involuntary_context_switches() -> None:
    voluntary = REGISTRY.get_sample_value("desk_process_context_switches_total", {"kind": "voluntary"})
    involuntary = REGISTRY.get_sample_value("desk_process_context_switches_total", {"kind": "involuntary"})

    assert voluntary is not None
    assert voluntary > 0
    assert involuntary is not None


def _switches(mode: str) -> float:
    return REGISTRY.get_sample_value("desk_conversation_mode_switches_total", {"mode": mode}) or 0.0


@pytest.mark.django_db
def test_a_mode_switch_counts_once_committed(django_capture_on_commit_callbacks: object) -> None:
    conversation: Conversation = ConversationFactory.create()
    before = _switches("queued")

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        conversation.mode = Conversation.Mode.QUEUED
        conversation_mode_record(conversation, kind=ConversationEvent.Kind.TAKEN_OVER, actor=None, fields=["mode"])

    assert _switches("queued") == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_mode_switch_is_not_counted() -> None:
    conversation: Conversation = ConversationFactory.create()
    before = _switches("queued")

    def switch_then_fail() -> None:
        with transaction.atomic():
            conversation.mode = Conversation.Mode.QUEUED
            conversation_mode_record(conversation, kind=ConversationEvent.Kind.TAKEN_OVER, actor=None, fields=["mode"])
            raise RuntimeError("the take-over failed after the switch")

    with pytest.raises(RuntimeError):
        switch_then_fail()

    assert _switches("queued") == before
