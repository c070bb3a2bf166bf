"""Answer patience: a short LLM outage delays the answer instead of handing the customer to a human.

When every endpoint fails or cools down, the breaker's half-open probe lets calls through again
seconds later; a fallback at the first failure would have queued every customer of that window for
a human, and with them every later message of their conversations. So a retryable
AnswerUnavailable releases the claim and the task tries again (2, 4, 8… s) until the message is
DESK_ANSWER_PATIENCE_SECONDS old. Past that, or when waiting cannot help (the request was refused,
nothing is configured to answer), the customer gets DESK_FALLBACK_REPLY and a human, as before.
"""

import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from apps.conversations.models import Message
from apps.conversations.pipeline import AnswerUnavailable
from apps.conversations.services.process import inbound_fail, inbound_release
from apps.core import metrics

logger = logging.getLogger(__name__)

# Never a busy loop against a dead backend, even in the patience's last second.
_MIN_RETRY_S = 1.0


def answer_retry_in(*, received_at: datetime, deferrals: int, now: datetime | None = None) -> float | None:
    """Seconds until the next try of a message the answerer could not answer; None once patience is spent."""
    now = now or timezone.now()
    left = settings.DESK_ANSWER_PATIENCE_SECONDS - (now - received_at).total_seconds()
    if left <= 0:
        return None
    # Backing off, and capped so that the last try falls at the end of the patience, not after it.
    return max(_MIN_RETRY_S, min(2.0 ** (deferrals + 1), left))


def inbound_answer_unavailable(*, message_id: int, error: AnswerUnavailable, deferrals: int = 0) -> float | None:
    """Settle a claimed message the answerer could not answer: defer it, or fall back to a human.

    ``deferrals``: how often this message was deferred already. Returns the seconds after which
    the caller must process it again (its claim is released until then), or None when the
    customer got the fallback reply and the message failed.
    """
    retry_in = None
    if error.retryable:
        received_at = Message.objects.values_list("created_at", flat=True).get(pk=message_id)
        retry_in = answer_retry_in(received_at=received_at, deferrals=deferrals)
    if retry_in is None:
        inbound_fail(message_id=message_id, reason=f"answerer unavailable: {error}")
        return None
    reason = f"answerer unavailable, retry in {retry_in:.0f}s: {error}"
    inbound_release(message_id=message_id, error=reason, retry_in=retry_in)
    metrics.inbound_deferred()
    logger.info("message %s: answerer unavailable, retrying in %.1fs: %s", message_id, retry_in, error)
    return retry_in
