"""The sweeper: re-enqueue what a crash between commit and task left behind."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.conversations.models import Customer, Message
from apps.conversations.services.process import inbound_fail
from apps.conversations.services.profile import customer_profiles_schedule
from apps.conversations.services.state import Status, enqueue_delivery, enqueue_processing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    requeued_inbound: int
    requeued_outbound: int
    given_up: int


def messages_sweep(*, now: datetime | None = None) -> SweepReport:
    """Re-enqueue work a crash left behind: unclaimed, orphaned or undelivered messages."""
    now = now or timezone.now()
    received_cutoff = now - timedelta(seconds=settings.DESK_RECEIVED_GRACE_SECONDS)
    lease_cutoff = now - timedelta(seconds=settings.DESK_PROCESSING_LEASE_SECONDS)
    batch = settings.DESK_SWEEP_BATCH
    stuck = Message.objects.filter(
        Q(direction=Message.Direction.INBOUND, status=Status.RECEIVED, status_changed_at__lt=received_cutoff)
        | Q(direction=Message.Direction.INBOUND, status=Status.PROCESSING, status_changed_at__lt=lease_cutoff)
        | Q(direction=Message.Direction.OUTBOUND, status=Status.PROCESSING, status_changed_at__lt=received_cutoff)
    ).values_list("pk", "direction", "status", "attempts", "status_changed_at")[:batch]

    inbound = outbound = given_up = 0
    for pk, direction, status, attempts, changed_at in stuck:
        if attempts >= settings.DESK_MAX_ATTEMPTS:
            given_up += _give_up(pk, direction, f"gave up after {attempts} attempts")
        elif direction == Message.Direction.OUTBOUND:
            with transaction.atomic():
                Message.objects.filter(pk=pk, status=Status.PROCESSING).update(status_changed_at=now)
                enqueue_delivery(pk)
            outbound += 1
        else:
            # Reset the orphaned claim only if nobody touched it since we looked.
            with transaction.atomic():
                reset = Message.objects.filter(pk=pk, status=status, status_changed_at=changed_at).update(
                    status=Status.RECEIVED, status_changed_at=now
                )
                if reset:
                    enqueue_processing(pk)
            inbound += reset
    # A profile batch lost with its task (or its worker) is picked up by the next new customer's,
    # or here when no new customer comes: one probe of the partial index of customers still due.
    if Customer.objects.filter(profile_due_at__lt=received_cutoff).exists():
        customer_profiles_schedule()
    if inbound or outbound or given_up:
        logger.warning("sweeper: requeued %d inbound, %d outbound, gave up on %d", inbound, outbound, given_up)
    return SweepReport(requeued_inbound=inbound, requeued_outbound=outbound, given_up=given_up)


def _give_up(pk: int, direction: str, reason: str) -> int:
    if direction == Message.Direction.INBOUND:
        inbound_fail(message_id=pk, reason=reason)
    else:
        Message.objects.filter(pk=pk, status=Status.PROCESSING).update(
            status=Status.FAILED, status_changed_at=timezone.now(), error=reason
        )
    return 1
