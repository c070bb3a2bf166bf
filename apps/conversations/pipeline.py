"""The pluggable steps of the message spine: moderation and answering.

The spine calls these interfaces only; the implementations are named in settings
(DESK_MODERATOR, DESK_ANSWERER) so the LLM and content-safety apps plug in without the
spine knowing them.
"""

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

Role = Literal["customer", "assistant"]
Action = Literal["allow", "mask", "block", "review"]


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str


@dataclass(frozen=True)
class Answer:
    text: str
    reasoning: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    action: Action
    text: str  # the text to use from here on (masked when action == "mask")
    evidence: dict[str, Any] = field(default_factory=dict)


class AnswerUnavailable(Exception):
    """The answerer cannot answer now.

    ``retryable``: the backends are down or busy and may be back in seconds, so the spine tries
    again within DESK_ANSWER_PATIENCE_SECONDS; otherwise (or past that) the customer gets a human.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Answerer(Protocol):
    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer: ...


class Moderator(Protocol):
    def check(self, *, text: str, direction: Literal["in", "out"], message_id: int | None = None) -> Verdict: ...


@cache
def get_answerer() -> Answerer:
    return import_string(settings.DESK_ANSWERER)()


@cache
def get_moderator() -> Moderator:
    return import_string(settings.DESK_MODERATOR)()
