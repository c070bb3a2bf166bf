"""Which WeChat messages the desk sees, and as whose.

Private chats always reach the desk; in group chats only messages that @mention the account
or start with a prefix (``!ai``) do. The account's own messages are ignored, except one the
staff type on the phone into a private chat: that is a person taking the conversation over.
Media (an image, voice note, video, file, link or mini program) cannot @mention anyone, so
only a customer's in a private chat reaches the desk.
"""

import re
from dataclasses import dataclass
from typing import Literal

# WeChat separates an @mention from the text with U+2005 (four-per-em space), or a plain space.
_MENTION_END = "[\u2005\u0020]"


@dataclass(frozen=True)
class TriggerRules:
    private_chats: bool = True
    group_chats: bool = True
    group_on_mention: bool = True
    group_prefixes: tuple[str, ...] = ("!ai",)
    staff_takeover: bool = True


@dataclass(frozen=True)
class Incoming:
    text: str
    is_text: bool
    is_self: bool
    in_room: bool
    mentions_self: bool
    self_names: tuple[str, ...] = ()
    is_media: bool = False


@dataclass(frozen=True)
class Decision:
    action: Literal["customer", "staff", "ignore"]
    reason: str
    text: str = ""


def _ignore(reason: str) -> Decision:
    return Decision(action="ignore", reason=reason)


def _strip_mentions(text: str, names: tuple[str, ...]) -> str:
    for name in names:
        if name:
            text = re.sub(f"@{re.escape(name)}(?:{_MENTION_END}|$)", "", text)
    return text.strip()


def _strip_prefix(text: str, prefixes: tuple[str, ...]) -> str | None:
    stripped = text.lstrip()
    for prefix in prefixes:
        if stripped.startswith(prefix):
            rest = stripped[len(prefix) :]
            # "!ai hello" and "!ai" alone count; "!aide" does not.
            if not rest or rest[0].isspace():
                return rest.strip()
    return None


def _decide_media(message: Incoming, rules: TriggerRules) -> Decision:
    if message.is_self:
        # The bridge's own file replies echo back as the account's; a file staff send from the
        # phone is not recorded either (the desk records staff text only).
        return _ignore("own_media")
    if message.in_room:
        return _ignore("group_media")
    if not rules.private_chats:
        return _ignore("private_off")
    return Decision(action="customer", reason="private_media")


def decide(message: Incoming, rules: TriggerRules) -> Decision:
    if message.is_media:
        return _decide_media(message, rules)
    if not message.is_text:
        return _ignore("not_text")
    if message.is_self:
        if message.in_room or not rules.staff_takeover:
            return _ignore("own")
        action, reason, text = "staff", "takeover", message.text.strip()
    elif not message.in_room:
        if not rules.private_chats:
            return _ignore("private_off")
        action, reason, text = "customer", "private", message.text.strip()
    elif not rules.group_chats:
        return _ignore("group_off")
    elif rules.group_on_mention and message.mentions_self:
        action, reason, text = "customer", "mention", _strip_mentions(message.text, message.self_names)
    else:
        rest = _strip_prefix(message.text, rules.group_prefixes)
        if rest is None:
            return _ignore("group_not_addressed")
        action, reason, text = "customer", "prefix", rest
    if not text:
        return _ignore("blank")
    return Decision(action="staff" if action == "staff" else "customer", reason=reason, text=text)
