"""The moderator in the message spine: verdicts, flags per message, and the review decisions."""

from collections.abc import Callable

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from apps.conversations import services as spine
from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import Answer, Turn
from apps.moderation import services
from apps.moderation.models import Flag, Term
from apps.moderation.moderator import ContentModerator
from tests.factories import receive

pytestmark = pytest.mark.django_db


class LeakyAnswerer:
    """An answerer whose answer carries something the blacklist blocks."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        return Answer(text="可以找我们代开发票，价格优惠")


@pytest.fixture
def spine_with_echo(use_answerer: Callable[[str], None]) -> None:
    use_answerer("apps.conversations.placeholders.EchoAnswerer")


def test_a_clean_message_is_allowed_without_a_flag(make_term: Callable[..., Term]) -> None:
    make_term("傻逼")

    verdict = ContentModerator().check(text="请问什么时候发货？", direction="in")

    assert verdict.action == "allow"
    assert verdict.evidence == {}
    assert not Flag.objects.exists()


def test_the_strongest_action_wins_and_masks_only_mask_terms(make_term: Callable[..., Term]) -> None:
    make_term("傻逼", action="mask")
    make_term("退钱", action="flag", category="other")

    verdict = ContentModerator().check(text="傻 逼客服，快退钱", direction="in")

    assert verdict.action == "mask"
    assert verdict.text == "* *客服，快退钱"
    assert {hit["term"] for hit in verdict.evidence["hits"]} == {"傻逼", "退钱"}


@pytest.mark.usefixtures("spine_with_echo")
def test_a_blocked_inbound_message_gets_the_polite_reply_and_a_flag(make_term: Callable[..., Term]) -> None:
    make_term("代开发票", category="fraud")
    message = receive("专业代開發票，加我").message

    spine.inbound_process(message_id=message.pk)

    (reply,) = Message.objects.filter(reply_to=message)
    flag = Flag.objects.get()
    assert reply.body == settings.DESK_MODERATION_BLOCKED_REPLY
    assert (flag.message_id, flag.direction, flag.verdict, flag.status) == (message.pk, "in", "block", "pending")
    assert flag.evidence["hits"][0]["matched"] == "代開發票"


@pytest.mark.usefixtures("spine_with_echo")
def test_a_hand_over_term_queues_the_conversation_for_a_human(make_term: Callable[..., Term]) -> None:
    make_term("投诉到消协", action="hand_over", category="other")
    message = receive("再不处理我就投诉到消协").message

    spine.inbound_process(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.HANDED_OVER
    assert message.conversation.mode == Conversation.Mode.QUEUED
    assert not Message.objects.filter(reply_to=message).exists()


def test_a_blocked_answer_is_never_delivered(
    make_term: Callable[..., Term], use_answerer: Callable[[str], None]
) -> None:
    use_answerer("tests.moderation.test_verdicts.LeakyAnswerer")
    make_term("代开发票", category="fraud")
    message = receive("怎么开发票？").message

    spine.inbound_process(message_id=message.pk)

    replies = list(Message.objects.filter(reply_to=message))
    assert [r.body for r in replies] == [settings.DESK_FALLBACK_REPLY]
    flag = Flag.objects.get()
    assert (flag.direction, flag.verdict, flag.text) == ("out", "block", "可以找我们代开发票，价格优惠")


def test_a_retried_check_keeps_one_flag_per_message_and_direction(make_term: Callable[..., Term]) -> None:
    make_term("傻逼")
    message = receive("傻逼").message
    moderator = ContentModerator()

    moderator.check(text=message.body, direction="in", message_id=message.pk)
    moderator.check(text=message.body, direction="in", message_id=message.pk)

    assert Flag.objects.filter(message=message).count() == 1


def test_a_reviewer_confirms_dismisses_and_blacklists_from_a_flag(
    make_term: Callable[..., Term], admin_user: User
) -> None:
    make_term("傻逼", action="flag")
    moderator = ContentModerator()
    first = receive("傻逼，加微信 abc12345 给你便宜").message
    moderator.check(text=first.body, direction="in", message_id=first.pk)
    flag = Flag.objects.get(message=first)

    term = services.term_add_from_flag(
        flag=flag, reviewer=admin_user, text="加微信", category="competitor", action="hand_over"
    )
    flag.refresh_from_db()
    second_flag = services.flag_record(message_id=None, direction="in", verdict="allow", text="x", evidence={})
    dismissed = services.flag_dismiss(flag=second_flag, reviewer=admin_user)

    assert term.note == f"from moderation flag #{flag.pk}"
    assert (flag.status, flag.reviewer_id) == ("confirmed", admin_user.pk)
    assert flag.decided_at is not None
    assert dismissed.status == "dismissed"
    assert ContentModerator().check(text="加 微 信聊", direction="in").action == "review"
