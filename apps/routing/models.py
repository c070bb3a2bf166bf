"""Who is on shift and where a queued conversation goes: availability, teams, rules, tickets,
business hours."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import channel_choices
from apps.conversations.models import Conversation


class AgentStatus(models.Model):
    """An agent's availability and how many conversations they serve at once."""

    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.CASCADE, related_name="agent_status"
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OFFLINE)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=3, help_text=_("Concurrent conversations"))
    # Set away by the presence sweep (every console tab closed): back online when a tab reconnects.
    away_auto = models.BooleanField(_("away automatically"), default=False)
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)
    changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent availability")
        verbose_name_plural = _("agent availability")
        indexes = [models.Index(fields=["status"], name="routing_agent_status")]

    def __str__(self) -> str:
        return f"{self.user} ({self.status})"


class Team(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="routing_teams", blank=True
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """The first enabled rule (by priority) whose conditions all hold gives a queued conversation its
    team; a condition left empty always holds. No rule matches: any online agent may take it."""

    priority = models.PositiveIntegerField(_("priority"), default=100, help_text=_("Lower runs first"))
    enabled = models.BooleanField(_("enabled"), default=True)
    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="rules")
    channel = models.CharField(_("channel"), max_length=32, choices=channel_choices, blank=True)
    moderation_category = models.CharField(
        _("moderation category"),
        max_length=32,
        blank=True,
        help_text=_("The category of the moderation hit that sent the conversation to a human"),
    )
    keywords = models.CharField(
        _("keywords"),
        max_length=500,
        blank=True,
        help_text=_("Comma-separated; any one in the customer's message matches"),
    )
    customer_label = models.ForeignKey(
        "customers.Label",
        verbose_name=_("customer label"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The customer carries this label (e.g. VIP)"),
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.team}"


class QueueTicket(models.Model):
    """One stint of a conversation in the queue and with the agent it went to: the wait is
    queued_at -> assigned_at, the handling assigned_at -> ended_at (the estimates come from these)."""

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="queue_tickets"
    )
    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.SET_NULL, null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    queued_at = models.DateTimeField(_("queued at"))
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), on_delete=models.SET_NULL, null=True, blank=True
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    position_sent_at = models.DateTimeField(_("position sent at"), null=True, blank=True)
    follow_up_sent_at = models.DateTimeField(_("follow-up sent at"), null=True, blank=True)
    follow_ups = models.PositiveSmallIntegerField(_("follow-ups sent"), default=0)
    acked_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    # Queued off hours (DESK_ROUTING_OFF_HOURS=queue): nobody is assigned, nor followed up, before this.
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)

    class Meta:
        verbose_name = _("queue ticket")
        verbose_name_plural = _("queue tickets")
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(ended_at__isnull=True), name="queueticket_one_open"
            ),
        ]
        indexes = [
            # The waiting line, per team, oldest first: the assigner and the positions read it.
            models.Index(
                fields=["team", "queued_at"],
                condition=Q(assigned_at__isnull=True, ended_at__isnull=True),
                name="queueticket_waiting",
            ),
            # Recent handle times for the wait estimate.
            models.Index(fields=["team", "-ended_at"], condition=Q(assigned_at__isnull=False), name="queueticket_done"),
        ]

    def __str__(self) -> str:
        return f"ticket #{self.pk} for {self.conversation_id}"


def _time_zone_validate(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone %(zone)s"), params={"zone": value}) from exc


class BusinessHours(models.Model):
    """When agents are on shift for a channel's customers (the row with no channel: every channel
    without its own). Conversations carry no account id yet, so the channel stands for the account.
    Off hours, a conversation entering the queue is told when the desk opens (DESK_ROUTING_OFF_HOURS)."""

    channel = models.CharField(
        _("channel"),
        max_length=32,
        choices=channel_choices,
        blank=True,
        unique=True,
        help_text=_("Empty: the default for every channel without hours of its own"),
    )
    enabled = models.BooleanField(_("enabled"), default=True, help_text=_("Disabled: always open"))
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[_time_zone_validate]
    )

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["channel"]

    def __str__(self) -> str:
        return self.get_channel_display() or str(_("All channels"))


class OpeningInterval(models.Model):
    """One span of a weekday's opening hours; a day may have several (a lunch break), none: closed."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    hours = models.ForeignKey(
        BusinessHours, verbose_name=_("business hours"), on_delete=models.CASCADE, related_name="intervals"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"), help_text=_("Later than the opening time, the same day"))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["weekday", "opens"]
        constraints = [models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="openinginterval_closes_later")]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(models.Model):
    """A date whose hours replace the weekday's: closed all day, or open only opens-closes."""

    hours = models.ForeignKey(
        BusinessHours, verbose_name=_("business hours"), on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=64, blank=True)
    opens = models.TimeField(_("opens"), null=True, blank=True, help_text=_("Empty: closed all day"))
    closes = models.TimeField(_("closes"), null=True, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["hours", "date"], name="holiday_one_per_date"),
            models.CheckConstraint(
                condition=Q(opens__isnull=True, closes__isnull=True)
                | Q(opens__isnull=False, closes__isnull=False, closes__gt=F("opens")),
                name="holiday_special_hours_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class SlaPolicy(models.Model):
    """Response targets for conversations with a human: the first agent reply after queueing, and
    each reply to a customer who wrote after the agent's last one. The team's enabled policy wins,
    else the enabled default (no team); neither: no clock (services/sla.py, sla.py)."""

    name = models.CharField(_("name"), max_length=64)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        help_text=_("Empty: the default for every team without a policy of its own"),
    )
    first_response_s = models.PositiveIntegerField(
        _("first response target (seconds)"),
        default=300,
        help_text=_("From entering the queue (off hours: from the opening) to the first agent reply"),
    )
    next_response_s = models.PositiveIntegerField(
        _("next response target (seconds)"),
        default=600,
        help_text=_("From a customer message to the agent's reply to it"),
    )
    warn_before_s = models.PositiveIntegerField(
        _("warn before (seconds)"), default=60, help_text=_("The console warns this long before a target")
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = [F("team__name").asc(nulls_first=True)]
        constraints = [
            # One policy per team and one default: NULLS NOT DISTINCT makes the empty team count once.
            models.UniqueConstraint(fields=["team"], nulls_distinct=False, name="slapolicy_one_per_team"),
            models.CheckConstraint(
                condition=Q(first_response_s__gt=0, next_response_s__gt=0), name="slapolicy_targets_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SlaBreach(models.Model):
    """A response target missed: written once per clock by the routing beat (services/sla.py), with
    the team and agent of that moment, for the metrics and the reports."""

    class Kind(models.TextChoices):
        FIRST = "first", _("First response")
        NEXT = "next", _("Next response")

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="sla_breaches"
    )
    ticket = models.ForeignKey(
        QueueTicket, verbose_name=_("queue ticket"), on_delete=models.SET_NULL, null=True, blank=True
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    # The clock's start identifies it: a policy edited meanwhile moves due_at, never the start.
    started_at = models.DateTimeField(_("clock started at"))
    due_at = models.DateTimeField(_("due at"))
    breached_at = models.DateTimeField(_("recorded at"))
    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.SET_NULL, null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        ordering = ["-breached_at"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "kind", "started_at"], name="slabreach_once_per_clock"),
        ]
        indexes = [models.Index(fields=["breached_at"], name="slabreach_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.conversation_id}"
