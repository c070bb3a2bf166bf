"""The channel interface of the spine: what a channel implements to carry a conversation.

The spine owns this interface and the registry; channel apps (the WeChat app, or a company's own)
implement adapters and are named in DESK_CHANNEL_ADAPTERS (kind -> dotted path), the way
healthchecks maps integration kinds to transports. Adding a channel is a settings entry and an
adapter class: the spine never names a channel, and the channel choices of its models come from
this registry.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, ClassVar

from django.conf import settings
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Outbound:
    """One message to a customer. Subclasses say what it carries (text now; media later)."""

    message_id: int
    conversation_id: int
    channel: str
    customer_external_id: str


@dataclass(frozen=True)
class OutboundText(Outbound):
    text: str


@dataclass(frozen=True)
class OutboundMedia(Outbound):
    """An image, voice note, video or file an agent sends. ``data`` is the plaintext, checked bytes."""

    kind: str  # image | voice | video | file
    attachment_id: int
    content_type: str
    filename: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes = field(repr=False)
    filename: str = ""


class MediaUnavailable(Exception):
    """The channel could not hand over a file the customer sent.

    ``code``: a key of media.sniff.REJECTIONS (not_found, expired, timeout, unavailable, too_large).
    ``retryable``: worth another try later (timeouts, 5xx); otherwise it is recorded as failed.
    """

    def __init__(self, message: str, *, code: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class DeliveryError(Exception):
    pass


class TransientDeliveryError(DeliveryError):
    """Worth retrying: timeouts, 5xx, connection refused."""


class DeliveryDeferred(DeliveryError):
    """The channel took the message and hands it over later, on the customer's next contact (an
    Official Account's passive reply rides on the response to the customer's next callback).

    Not failed, not retried: the message stays processing, and the sweeper leaves it alone until
    ``until``, then asks the adapter again (which gives up with PermanentDeliveryError or defers
    anew). The channel reports the hand-over with ``services.deferred_delivered``.
    """

    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: unknown recipient, quota exhausted, channel not configured.

    ``code``: the channel's own error code, for the console and the metrics. ``hand_over``: the
    customer still needs an answer a person can give (the channel's window closed, someone else
    serves them there); otherwise the reply is dropped with the customer left untouched.
    """

    def __init__(self, message: str, *, code: str = "", hand_over: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.hand_over = hand_over


@dataclass(frozen=True)
class ChannelState:
    """What the channel says about a conversation, for the console: a line to show, and whether the
    desk may send in it now (WeCom does not let anyone else write while its own servicer serves)."""

    label: str = ""
    can_send: bool = True


@dataclass(frozen=True)
class ChannelAction:
    """A channel-specific action the console offers on a conversation (hand to WeCom's servicer...).

    ``choices``: (value, label) pairs the agent picks one of; empty for a plain button.
    """

    slug: str
    label: str
    choices: tuple[tuple[str, str], ...] = ()


class ChannelActionError(Exception):
    """The action does not apply to the conversation as it is now; the message is for the agent."""


@dataclass(frozen=True)
class CustomerProfile:
    """Who the channel says a customer is (services/profile.py): a name to show, and WeChat's unionid,
    the one id an Official Account and a WeCom 客服 share for a person (empty when not given)."""

    display_name: str = ""
    unionid: str = ""


# One customer's part of a batched profile look-up (ChannelAdapter.customer_profiles).
ProfileAnswer = CustomerProfile | DeliveryError | None


@dataclass(frozen=True)
class ChannelAccount:
    """One of a channel's own accounts a customer writes to (an Official Account, a WeCom corp), for the
    console's account filter. ``key`` is stable and unique within the channel; ``label`` is shown."""

    key: str
    label: str


class ChannelAdapter:
    """Base of every channel adapter. ``send`` is required; the hooks default to doing nothing.

    Hooks run in a spine task after the change has committed (``tasks.channel_conversation_changed``),
    so an adapter may call its channel's API from them; raise TransientDeliveryError to be retried.
    """

    channel: ClassVar[str]
    # Shown wherever a channel is chosen or displayed (admin filters, report forms).
    label: ClassVar[str | Promise]
    # Channels cap text in bytes, not characters; the reply planner splits on this.
    max_text_bytes: int = 2048

    def send(self, outbound: Outbound) -> None:
        """Deliver one message, or raise a DeliveryError subclass."""
        raise NotImplementedError

    # The kinds of OutboundMedia this channel can send (an Official Account cannot send a file).
    media_kinds: ClassVar[frozenset[str]] = frozenset()
    # How the customer is asked for a rating after a close (services/satisfaction.py): False, the
    # spine sends DESK_CSAT_ASK_TEXT as a system message; True, the channel asks in its own way from
    # its conversation_changed hook (WeCom 客服: a menu on the end's single-use code, since kf/send_msg
    # is refused once the session has ended) and reports it with services.satisfaction_asked.
    asks_rating_itself: ClassVar[bool] = False

    def fetch_media(self, *, source: dict[str, Any], kind: str, max_bytes: int) -> FetchedMedia:
        """Download a file the customer sent, from the reference the channel gave (media id, URL).

        Runs in the processing task, never in a webhook. Raise MediaUnavailable.
        """
        raise MediaUnavailable(f"the {self.channel} channel does not fetch media", code="unavailable")

    def conversation_changed(self, *, conversation_id: int, mode: str, assignee_id: int | None) -> None:
        """The conversation's mode or assignee changed (a human took it, it was queued, closed...)."""

    def customer_profile(self, *, external_id: str) -> CustomerProfile | None:
        """Ask the channel about a customer it has just brought (services/profile.py), or None.

        Runs in a spine task after the customer's first message committed, never in the request that
        received it. Raise TransientDeliveryError to be retried, PermanentDeliveryError to give up.
        """
        return None

    def customer_profiles(self, *, external_ids: Sequence[str]) -> dict[str, ProfileAnswer]:
        """Ask the channel about several customers at once (services/profile.py batches new customers).

        The answer per external id: a CustomerProfile, None (nothing to say), or the DeliveryError
        for that one customer (transient: asked again later; permanent: given up). An id left out is
        nothing to say. Raise TransientDeliveryError to have them all asked again. This default asks
        ``customer_profile`` one at a time; a channel with a batch API overrides it.
        """
        answers: dict[str, ProfileAnswer] = {}
        for external_id in external_ids:
            try:
                answers[external_id] = self.customer_profile(external_id=external_id)
            except TransientDeliveryError as exc:
                # The channel is failing now: the rest are asked again with this one, not each into it.
                answers.update((later, exc) for later in external_ids if later not in answers)
                break
            except PermanentDeliveryError as exc:
                answers[external_id] = exc
        return answers

    def state(self, *, conversation_id: int) -> ChannelState:
        return ChannelState()

    def accounts(self) -> list[ChannelAccount]:
        """The channel's accounts, for the console's filter; none for a channel that is one account."""
        return []

    def account_customers(self, *, key: str) -> QuerySet[Any, str] | None:
        """The external ids of the customers who wrote to the account ``key`` (one of ``accounts()``),
        as a lazy ``values_list(..., flat=True)``: the spine filters with it as a subquery. None: no
        such account."""
        return None

    def actions(self, *, conversation_id: int) -> list[ChannelAction]:
        return []

    def act(self, *, conversation_id: int, action: str, value: str, actor_id: int) -> None:
        """Run one of ``actions()``; raise ChannelActionError when it does not apply."""
        raise ChannelActionError(f"unknown action {action!r}")


def outbound_text(outbound: Outbound) -> OutboundText:
    """The text to send; a message of a kind the channel cannot carry is refused for good."""
    if not isinstance(outbound, OutboundText):
        raise PermanentDeliveryError(f"the {outbound.channel} channel cannot send a {type(outbound).__name__}")
    return outbound


def adapter_class(channel: str) -> type[ChannelAdapter]:
    path = settings.DESK_CHANNEL_ADAPTERS.get(channel)
    if path is None:
        raise PermanentDeliveryError(f"no adapter is configured for channel {channel!r}")
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, ChannelAdapter)):
        raise TypeError(f"{path} is not a ChannelAdapter")
    return cls


@cache
def get_adapter(channel: str) -> ChannelAdapter:
    return adapter_class(channel)()


def channel_kinds() -> Sequence[str]:
    return tuple(settings.DESK_CHANNEL_ADAPTERS)


def channel_choices() -> list[tuple[str, str | Promise]]:
    """(kind, label) of every configured channel: the choices of the spine's channel fields."""
    return [(kind, adapter_class(kind).label) for kind in channel_kinds()]


def overrides_hook(channel: str, hook: str) -> bool:
    """Whether the channel's adapter implements ``hook``: the spine schedules no task for a no-op."""
    try:
        cls = adapter_class(channel)
    except PermanentDeliveryError:
        return False
    return getattr(cls, hook) is not getattr(ChannelAdapter, hook)
