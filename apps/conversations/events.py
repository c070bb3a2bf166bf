"""What the spine announces on the websocket layer, published only after commit.

Events carry ids, never content: a listener (the console's pages) that gets one reads what
changed from Postgres, and one that missed some resyncs from the last id it saw, so a dropped
event loses nothing. Listeners join these groups and handle the ``desk.event`` type; the spine
does not know who listens.
"""

from apps.core.side_effects import publish_on_commit

LISTS_GROUP = "desk.lists"
EVENT_TYPE = "desk.event"


def conversation_group(conversation_id: int) -> str:
    return f"desk.conversation.{conversation_id}"


def conversation_changed(*, conversation_id: int, message_id: int | None = None) -> None:
    """A message was added to, or the mode/assignee of, a conversation changed."""
    event = {"type": EVENT_TYPE, "kind": "conversation", "conversation_id": conversation_id}
    if message_id is not None:
        event["message_id"] = message_id
    publish_on_commit(LISTS_GROUP, event)
    publish_on_commit(conversation_group(conversation_id), event)


def flags_changed() -> None:
    """A moderation flag was recorded or decided: review queues reload."""
    publish_on_commit(LISTS_GROUP, {"type": EVENT_TYPE, "kind": "flags"})
