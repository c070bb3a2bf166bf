"""Writes of the message spine: receive, process, reply, deliver, fail, sweep.

Lock order, everywhere: customer -> conversation -> message (-> the audit chain's advisory
lock, taken last). Side effects (tasks, websocket events) are published only after commit
through apps.core.side_effects. One module per stage; this package is the public surface.
"""

from apps.conversations.services.deferred import DeferredMessage, deferred_delivered, deferred_lock
from apps.conversations.services.modes import (
    asks_for_human,
    channel_conversation_changed,
    conversation_channel_set,
    conversation_end,
    conversation_lock,
    conversation_mode_record,
    conversation_queue_announce,
    conversation_reopen,
    conversation_request_human,
    conversations_lock,
    conversations_mode_record_many,
    customer_waiting_announce,
)
from apps.conversations.services.outbound import conversation_reply, message_deliver
from apps.conversations.services.patience import answer_retry_in, inbound_answer_unavailable
from apps.conversations.services.process import (
    inbound_claim,
    inbound_fail,
    inbound_hand_over,
    inbound_process,
    inbound_release,
)
from apps.conversations.services.receive import Received, conversation_open, message_receive, staff_message_record
from apps.conversations.services.satisfaction import (
    Rating,
    rating_menu_key,
    rating_parse,
    satisfaction_asked,
    satisfaction_pending,
)
from apps.conversations.services.sweep import SweepReport, messages_sweep

__all__ = [
    "DeferredMessage",
    "Rating",
    "Received",
    "SweepReport",
    "answer_retry_in",
    "asks_for_human",
    "channel_conversation_changed",
    "conversation_channel_set",
    "conversation_end",
    "conversation_lock",
    "conversation_mode_record",
    "conversation_open",
    "conversation_queue_announce",
    "conversation_reopen",
    "conversation_reply",
    "conversation_request_human",
    "conversations_lock",
    "conversations_mode_record_many",
    "customer_waiting_announce",
    "deferred_delivered",
    "deferred_lock",
    "inbound_answer_unavailable",
    "inbound_claim",
    "inbound_fail",
    "inbound_hand_over",
    "inbound_process",
    "inbound_release",
    "message_deliver",
    "message_receive",
    "messages_sweep",
    "rating_menu_key",
    "rating_parse",
    "satisfaction_asked",
    "satisfaction_pending",
    "staff_message_record",
]
