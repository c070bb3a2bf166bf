"""What the spine announces about who serves a conversation, for apps that plug into it (routing).

These are sent inside the transaction that made the change, with the conversation locked
(customer -> conversation, see services.modes): a listener may write rows that must exist
together with the change (a queue ticket), and must defer everything else (tasks, websocket
events) with apps.core.side_effects. A listener that raises rolls the change back.

- ``conversation_queued(conversation, reason, message, details)``: the conversation entered the
  queue (mode bot -> queued). ``reason``: "requested_human", "hand_over", "fail", or the event kind
  of a channel or service that queued it; ``message``: the customer message that sent it there, if
  any; ``details``: what decided it (the moderation verdicts, as written to the audit row).
  A listener returns the Message it sent to tell the customer where they stand, or None; the spine
  then skips its own "please wait" reply.
- ``customer_waiting(conversation, message)``: a customer message arrived while the conversation
  waits in the queue; the bot stays silent. A listener may acknowledge it.
- ``conversation_mode_changed(conversation, kind, previous_assignee_id)``: mode or assignee
  changed through services.conversation_mode_record (take-over, assignment, hand-back, close, a
  channel's report): an agent may have a free seat again.

One is sent outside any conversation's transaction, from a task (services/profile.py):

- ``customer_identified(customer_id, unionid)``: the customer's channel reported WeChat's unionid for
  them (Official Account user info, WeCom 客服 customer batchget), after the customer's first message
  committed. It may come again for the same pair (a retried task): listeners must be idempotent.
  The customers app links the customer to the Person of that unionid.
"""

from django.dispatch import Signal

conversation_queued = Signal()
customer_waiting = Signal()
conversation_mode_changed = Signal()
customer_identified = Signal()
