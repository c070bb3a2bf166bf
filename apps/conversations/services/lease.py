"""The renewable processing lease: a live worker keeps its claims fresh, so only a dead one's lapse.

A claim (inbound received -> processing) is a lease: the sweeper takes a message back once its
``status_changed_at`` is older than DESK_PROCESSING_LEASE_SECONDS. A lease that is never renewed
has to outlast the slowest LLM call, so a worker SIGKILLed mid-call left its customer waiting
minutes. Instead every process runs one keeper thread that, every
DESK_PROCESSING_LEASE_RENEW_SECONDS, moves ``status_changed_at`` forward for each message a
``lease_held`` block of that process is still working on: one UPDATE for all of them, however many
hundred threads are waiting on the model. When the process dies the renewals stop with it, and the
sweeper reclaims its messages about one lease later.
"""

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.conversations.models import Message
from apps.conversations.services.state import Status
from apps.core.per_process import PerProcess

logger = logging.getLogger(__name__)

# While the database is down every tick fails; one warning a minute says so without flooding the log.
_FAILURE_LOG_EVERY_S = 60.0


def leases_renew(*, message_ids: list[int]) -> int:
    """Push the lease of every still-processing inbound message in ``message_ids`` forward to now."""
    # Filtered on status: a message settled (or reset by the sweeper) since the snapshot is left alone.
    return Message.objects.filter(
        pk__in=message_ids, direction=Message.Direction.INBOUND, status=Status.PROCESSING
    ).update(status_changed_at=timezone.now())


class _Keeper:
    """The ids this process holds, and the daemon thread that renews them."""

    def __init__(self) -> None:
        # Counted, not a set: once the sweeper has reset a message, another thread of this process
        # may claim it while the first still unwinds, and the first's exit must not drop that hold.
        self._held: Counter[int] = Counter()
        self._changed = threading.Condition()
        self._failures = 0
        self._failure_logged_at = -math.inf
        self._thread = threading.Thread(target=self._run, name="processing-lease-keeper", daemon=True)
        self._thread.start()

    def hold(self, message_id: int) -> None:
        with self._changed:
            idle = not self._held
            self._held[message_id] += 1
            if idle:
                # Wake a keeper that sleeps on nothing held (or on an interval a test has since shortened).
                self._changed.notify()

    def release(self, message_id: int) -> None:
        with self._changed:
            self._held[message_id] -= 1
            if self._held[message_id] <= 0:
                del self._held[message_id]

    def _run(self) -> None:
        while True:
            with self._changed:
                # A process that holds nothing (the web, an idle worker) issues no queries at all.
                while not self._held:
                    self._changed.wait()
                self._changed.wait(timeout=settings.DESK_PROCESSING_LEASE_RENEW_SECONDS)
                message_ids = list(self._held)
            if message_ids:
                self._tick(message_ids)

    def _tick(self, message_ids: list[int]) -> None:
        # Never let an exception end the thread: a dead keeper would let every long call's lease
        # lapse and the sweeper hand live messages to a second worker. A failed tick is retried at
        # the next; the reply commit's status re-check and the one-bot-reply constraint still keep
        # a customer from two answers if the database stays down longer than a lease.
        try:
            leases_renew(message_ids=message_ids)
        except Exception:
            self._failures += 1
            now = time.monotonic()
            if now - self._failure_logged_at >= _FAILURE_LOG_EVERY_S:
                self._failure_logged_at = now
                logger.warning(
                    "processing lease renewal failed (%d in a row, %d messages held); retrying",
                    self._failures,
                    len(message_ids),
                    exc_info=True,
                )
        else:
            if self._failures:
                logger.info("processing lease renewal works again after %d failures", self._failures)
                self._failures = 0
                self._failure_logged_at = -math.inf
        finally:
            _connection_release()


def _connection_release() -> None:
    # No request or task signal ever closes this thread's connection: held between ticks it would
    # pin one of the pool's DATABASE_POOL_MAX_SIZE slots for the life of the process. Handing it
    # back each tick also lets the pool discard one a database restart broke, so the next tick
    # starts on a fresh connection.
    try:
        connection.close()
    except Exception:
        logger.debug("closing the lease keeper's connection failed", exc_info=True)


_keeper = PerProcess(_Keeper)


def _keeper_get() -> _Keeper:
    """The process's keeper, started on first use; a forked child starts its own."""
    return _keeper.get()


@contextmanager
def lease_held(message_id: int) -> Iterator[None]:
    """Keep renewing the processing lease of a claimed message while the block runs."""
    keeper = _keeper_get()
    keeper.hold(message_id)
    try:
        yield
    finally:
        keeper.release(message_id)
