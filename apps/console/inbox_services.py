"""Writes of the agent inbox: read markers, notification switches, bulk actions on the list."""

from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import F
from django.db.models.functions import Greatest

from apps.console import services
from apps.console.models import AgentPreference, ReadMarker
from apps.conversations.models import Conversation
from apps.customers import services as customers

BULK_LIMIT = 100


def read_marker_set(*, user: AbstractBaseUser, conversation_id: int, message_id: int) -> None:
    """The agent has seen the conversation up to this message; a marker never moves back."""
    marker, created = ReadMarker.objects.get_or_create(
        user_id=user.pk, conversation_id=conversation_id, defaults={"last_read_message_id": message_id}
    )
    if not created and marker.last_read_message_id < message_id:
        ReadMarker.objects.filter(pk=marker.pk).update(
            last_read_message_id=Greatest(F("last_read_message_id"), message_id)
        )


def preferences_set(*, user: AbstractBaseUser, switches: dict[str, bool]) -> AgentPreference:
    preference, _ = AgentPreference.objects.get_or_create(user_id=user.pk)
    changed = [name for name in AgentPreference.SWITCHES if name in switches]
    for name in changed:
        setattr(preference, name, bool(switches[name]))
    if changed:
        preference.save(update_fields=[*changed, "updated_at"])
    return preference


BulkAction = Callable[[int, AbstractBaseUser, dict[str, str]], object]


def _label(conversation_id: int, agent: AbstractBaseUser, data: dict[str, str]) -> object:
    """The form's "label" (an id) on the conversation, or off it with label_op=remove (audited)."""
    label = data.get("label", "")
    if not label.isdigit():
        raise ValueError("choose a label")
    change = customers.conversations_unlabel if data.get("label_op") == "remove" else customers.conversations_label
    return change(actor=agent, conversation_ids=[conversation_id], label_id=int(label))


# Each runs one service per conversation, so the rules (and audit) are the single ones'.
BULK_ACTIONS: dict[str, BulkAction] = {
    "assign": lambda cid, agent, data: services.conversation_assign(
        conversation_id=cid, agent=agent, assignee_id=int(data.get("assignee") or 0)
    ),
    "close": lambda cid, agent, data: services.conversation_close(conversation_id=cid, agent=agent),
    "label": _label,
}


def conversations_bulk(
    *, agent: AbstractBaseUser, action: str, conversation_ids: list[int], data: dict[str, str]
) -> dict[int, str]:
    """Apply one action to each conversation, each in its own transaction: one refused (closed
    meanwhile, taken) does not undo the others. Returns the error of each that failed."""
    if action not in BULK_ACTIONS:
        raise ValueError(f"unknown bulk action {action!r}")
    act = BULK_ACTIONS[action]
    errors: dict[int, str] = {}
    for conversation_id in conversation_ids[:BULK_LIMIT]:
        try:
            act(conversation_id, agent, data)
        except ValidationError as exc:
            errors[conversation_id] = " ".join(exc.messages)
        except (services.HandoffError, Conversation.DoesNotExist, ValueError) as exc:
            errors[conversation_id] = str(exc) or type(exc).__name__
    return errors
