"""The pluggable steps of the message spine: reading images, moderation and answering.

The spine calls these interfaces only; the implementations are named in settings
(DESK_IMAGE_READER, DESK_SPEECH_READER, DESK_MODERATOR, DESK_ANSWERER) so the OCR, LLM and content-safety apps
plug in without the spine knowing them. The knowledge base is a step of the answerer
(DESK_KNOWLEDGE), declared here so the LLM app and the knowledge app need not know each other.
"""

from collections.abc import Sequence
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
    # Set when the answerer declines (an ungrounded draft, an injection attempt it will not serve):
    # the reason; ``text`` is then empty and a person takes the message.
    hand_over: str = ""
    # What the customer hears on a hand-over (once per window); "" = DESK_ANSWER_HUMAN_NOTICE.
    notice: str = ""


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


@dataclass(frozen=True)
class ImageText:
    text: str  # "" when the image holds no readable text
    ms: int | None = None


class ImageUnreadable(Exception):
    """The image could not be decoded or the reader failed: the spine treats it as unreadable."""


class ImageReader(Protocol):
    def read(self, *, data: bytes) -> ImageText: ...


@dataclass(frozen=True)
class SpeechText:
    text: str  # "" when nothing was recognised
    ms: int | None = None


class SpeechUnreadable(Exception):
    """The audio could not be decoded, no speech model is installed, or recognition failed."""


class SpeechReader(Protocol):
    def read(self, *, data: bytes, content_type: str) -> SpeechText: ...


class KnowledgeMatch(Protocol):
    @property
    def entry_id(self) -> int: ...

    @property
    def question(self) -> str: ...

    @property
    def answer(self) -> str: ...

    @property
    def score(self) -> float: ...  # how close the meaning is (cosine): the direct answer and the fallback compare it

    @property
    def fused(self) -> float: ...  # what ranks: the closeness plus the words shared; KNOWLEDGE_SNIPPET_MIN_SCORE

    @property
    def direct_allowed(self) -> bool: ...  # the entry may be sent as it is


class KnowledgeSearch(Protocol):
    @property
    def matches(self) -> Sequence[KnowledgeMatch]: ...  # best first, one per entry

    @property
    def direct(self) -> KnowledgeMatch | None: ...  # close enough to answer with as it is

    @property
    def fallback(self) -> KnowledgeMatch | None: ...  # sure enough to stand in for a withheld draft

    def direct_meta(self) -> dict[str, Any]: ...


class Knowledge(Protocol):
    def search(self, *, question: str) -> KnowledgeSearch: ...

    def version(self) -> str: ...  # changes whenever an answer could change: the answer cache keys on it


class Answerer(Protocol):
    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer: ...


class ShopStep(Protocol):
    """Answers from the shop's own systems (orders, logistics, after-sales) before the answerer.

    ``None``: not a question for the shop, the answerer takes it. An ``Answer`` with ``hand_over``
    set: the shop could not be asked (down, slow, malformed): a person answers, nothing is invented.
    """

    def answer(self, *, conversation_id: int, question: str) -> Answer | None: ...


class Moderator(Protocol):
    def check(self, *, text: str, direction: Literal["in", "out"], message_id: int | None = None) -> Verdict: ...


def question_marked(marker: str, text: str) -> str:
    """The question as the answerer gets it when it was read from media: the marker line first, so
    the model knows the words came from a picture or a voice note (and may be partial)."""
    return f"{marker}\n{text}" if marker else text


def question_unmarked(question: str) -> str:
    """The customer's words alone, for searches (the knowledge base) that a marker would skew."""
    first, newline, rest = question.partition("\n")
    markers = (settings.DESK_IMAGE_TEXT_MARKER, settings.DESK_VOICE_TEXT_MARKER)
    return rest if newline and first in markers else question


@cache
def get_answerer() -> Answerer:
    return import_string(settings.DESK_ANSWERER)()


def get_shop_step() -> ShopStep | None:
    """DESK_SHOP_STEP's step, or None when the setting is empty (no shop connectors)."""
    path = settings.DESK_SHOP_STEP
    return _shop_step(path) if path else None


@cache
def _shop_step(path: str) -> ShopStep:
    return import_string(path)()


@cache
def get_moderator() -> Moderator:
    return import_string(settings.DESK_MODERATOR)()


@cache
def get_image_reader() -> ImageReader:
    return import_string(settings.DESK_IMAGE_READER)()


@cache
def get_speech_reader() -> SpeechReader:
    return import_string(settings.DESK_SPEECH_READER)()


@cache
def get_knowledge() -> Knowledge:
    return import_string(settings.DESK_KNOWLEDGE)()


@dataclass(frozen=True)
class HumanRequest:
    """Whether a customer message asks for a person, and what decided it.

    ``route``: "phrase" (the message is a configured phrase or example as it is), "semantic" (the
    detector's model scored it; ``score`` is how sure it is, 0..1) or "" (nothing applied: no).
    """

    asks: bool
    route: str = ""
    score: float | None = None


class HumanRequestDetector(Protocol):
    def asks(self, *, text: str) -> HumanRequest: ...


class PhraseDetector:
    """The phrase list alone, for setups without the sentence model: a message containing one of
    DESK_HUMAN_REQUEST_PHRASES (spaces and case ignored) asks. It also fires on questions about
    staff ("你们人工客服几点下班？"), which the default detector (DESK_HUMAN_REQUEST_DETECTOR) tells apart."""

    def asks(self, *, text: str) -> HumanRequest:
        squashed = "".join(text.split()).lower()
        hit = any(phrase.lower() in squashed for phrase in settings.DESK_HUMAN_REQUEST_PHRASES)
        return HumanRequest(asks=hit, route="phrase" if hit else "")


def get_human_request_detector() -> HumanRequestDetector:
    # Keyed by the setting, so a test (or a settings override) that names another detector gets it.
    return _human_request_detector(settings.DESK_HUMAN_REQUEST_DETECTOR)


@cache
def _human_request_detector(path: str) -> HumanRequestDetector:
    return import_string(path)()
