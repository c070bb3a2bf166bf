"""The desk's clock for timers that tests must be able to move (queue waits, presence, follow-ups).

Code that schedules by elapsed time reads ``now()`` here instead of ``timezone.now()``; a test
moves time with ``advance()`` (the ``clock`` fixture) instead of sleeping. Rows' own
``auto_now`` stamps keep Django's clock: they record when something happened, they time nothing.
The offset is process-wide, so worker threads of one test see the same moved time.
"""

from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)


def now() -> datetime:
    return timezone.now() + _offset


def advance(seconds: float) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += timedelta(seconds=seconds)


def reset() -> None:
    global _offset
    _offset = timedelta(0)
