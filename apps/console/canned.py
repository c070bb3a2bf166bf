"""Canned replies with variables: ``{customer_name}`` and ``{agent_name}`` are filled from the
conversation; any other ``{name}`` is a fill-in the composer asks the agent for (``{order_no}``).
A brace is written twice to stand for itself (``{{``, ``}}``), as in str.format."""

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.console.models import CannedResponse
from apps.console.selectors import canned_responses
from apps.conversations.models import Conversation

KNOWN = ("customer_name", "agent_name")
HELP = gettext_lazy(
    "{customer_name} and {agent_name} are filled in; any other {name}, e.g. {order_no}, is asked "
    "of the agent when they insert the reply. Write {{ and }} for a brace."
)
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


def placeholders(body: str) -> list[str]:
    """The variables a body uses, in order of first use; ValidationError if a brace is unbalanced
    or a variable name is not a plain word."""
    found: list[str] = []
    for match in _TOKEN.finditer(body):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ValidationError(
                _("Unbalanced brace at character %(at)d: write {name} for a variable, {{ or }} for a brace."),
                code="unbalanced",
                params={"at": match.start() + 1},
            )
        if not _NAME.match(name):
            raise ValidationError(
                _("“{%(name)s}” is not a variable name: use letters, digits and _ (e.g. {order_no})."),
                code="name",
                params={"name": name},
            )
        if name not in found:
            found.append(name)
    return found


def fill(body: str, values: dict[str, str], *, final: bool = True) -> str:
    """The body with the variables given replaced; the others stay as ``{name}``. Not ``final``:
    doubled braces stay doubled too (the composer fills the rest with the same rules)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0] if final else token
        name = match.group(1)
        return values[name] if name is not None and name in values else token

    return _TOKEN.sub(one, body)


@dataclass(frozen=True)
class CannedView:
    id: int
    title: str
    shortcut: str
    text: str  # known variables filled; fill-ins left as {name}, braces still doubled
    fill_ins: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "shortcut": self.shortcut,
            "text": self.text,
            "fill_ins": self.fill_ins,
        }


def canned_render(*, canned: CannedResponse, customer_name: str, agent_name: str) -> CannedView:
    try:
        names = placeholders(canned.body)
    except ValidationError:  # saved before the admin checked bodies: offered as it is
        return CannedView(canned.pk, canned.title, canned.shortcut, canned.body, [])
    known = {"customer_name": customer_name, "agent_name": agent_name}
    return CannedView(
        id=canned.pk,
        title=canned.title,
        shortcut=canned.shortcut,
        text=fill(canned.body, known, final=False),
        fill_ins=[name for name in names if name not in KNOWN],
    )


def canned_for(*, conversation: Conversation, user: Any) -> list[dict[str, Any]]:
    """The canned replies with this conversation's variables filled, for the composer's "/" list."""
    agent_name = str(user.get_full_name() or user.get_username())
    return [
        canned_render(canned=item, customer_name=str(conversation.customer), agent_name=agent_name).as_json()
        for item in canned_responses()
    ]
