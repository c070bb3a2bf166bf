from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import channel_choices
from apps.core.fields import BlindIndexField, EncryptedTextField


class Customer(models.Model):
    channel = models.CharField(_("channel"), max_length=32, choices=channel_choices)
    external_id = models.CharField(_("external id"), max_length=128)
    display_name = models.CharField(_("display name"), max_length=128, blank=True)
    # Keyed hashes of the name's terms (apps/core/blind_index.py): searched like message bodies,
    # and still searchable once the name itself is encrypted.
    search_index = BlindIndexField(verbose_name=_("search index"), source="display_name")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # When the channel is next to be asked who the customer is (services/profile.py); null once asked.
    # Batched: one task asks the channel about up to 100 of them at a time.
    profile_due_at = models.DateTimeField(_("profile due at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="customer_unique_per_channel"),
        ]
        indexes = [
            GinIndex(fields=["search_index"], name="customer_search_index"),
            # The profile batch's pick: only the few customers still to be asked are in it.
            models.Index(
                fields=["channel", "profile_due_at"],
                name="customer_profile_due",
                condition=models.Q(profile_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_id


class Conversation(models.Model):
    class Mode(models.TextChoices):
        BOT = "bot", _("Bot")
        QUEUED = "queued", _("Queued for a human")
        HUMAN = "human", _("Human")
        CLOSED = "closed", _("Closed")

    class EndReason(models.TextChoices):
        """How a closed conversation ended (services.conversation_end), for the reports."""

        BOT_RESOLVED = "bot_resolved", _("Resolved by the bot")
        AGENT_RESOLVED = "agent_resolved", _("Resolved by an agent")
        ABANDONED = "abandoned", _("Abandoned in the queue")
        CUSTOMER_CLOSED = "customer_closed", _("Closed by the customer")
        IDLE = "idle", _("Closed for inactivity")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="conversations")
    channel = models.CharField(_("channel"), max_length=32, choices=channel_choices)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.BOT)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    end_reason = models.CharField(_("how it ended"), max_length=16, choices=EndReason.choices, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            # A customer has at most one open conversation; new messages join it.
            models.UniqueConstraint(
                fields=["customer"], condition=~Q(mode="closed"), name="conversation_one_open_per_customer"
            ),
        ]
        indexes = [
            models.Index(fields=["mode", "-last_message_at"], name="conversation_mode_recent"),
            models.Index(fields=["assignee", "mode"], name="conversation_assignee_mode"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer_id} ({self.mode})"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    class AuthorKind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        BOT = "bot", _("Bot")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")  # inbound, stored, not yet picked up
        PROCESSING = "processing", _("Processing")  # inbound being answered / outbound awaiting delivery
        ANSWERED = "answered", _("Answered")  # inbound with a committed reply
        HANDED_OVER = "handed_over", _("Handed to a human")  # inbound left for an agent, no bot reply
        RATE_LIMITED = "rate_limited", _("Over the rate limit")  # inbound stored, not answered
        DELIVERED = "delivered", _("Delivered")  # outbound accepted by the channel
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(_("channel"), max_length=32, choices=channel_choices)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    author_kind = models.CharField(_("author kind"), max_length=16, choices=AuthorKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.SET_NULL, null=True, blank=True
    )
    # Message text is encrypted at rest (docs/security.md): SQL cannot search it; search_index can.
    body = EncryptedTextField(_("body"))
    # The body's keyed blind index (apps/core/blind_index.py): what search reads instead of text.
    search_index = BlindIndexField(verbose_name=_("search index"), source="body")
    reasoning = EncryptedTextField(_("reasoning"), blank=True)
    channel_message_id = models.CharField(_("channel message id"), max_length=128, null=True, blank=True)
    reply_to = models.ForeignKey(
        "self", verbose_name=_("reply to"), on_delete=models.PROTECT, null=True, blank=True, related_name="replies"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    status_changed_at = models.DateTimeField(_("status changed at"), auto_now_add=True)
    processing_started_at = models.DateTimeField(_("processing started at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    answer_ms = models.PositiveIntegerField(_("answer time (ms)"), null=True, blank=True)
    # What produced an answer: endpoint, model, TTFT, total time, tokens in/out (the answerer).
    # Where the message came from: the customer's address when the channel gives one, else the
    # address of the bridge or webhook caller that delivered it (for the audit log).
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    answer_meta = models.JSONField(_("answer details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            # Channels redeliver (WeChat retries 3 times); this is what makes receive idempotent.
            models.UniqueConstraint(
                fields=["channel", "channel_message_id"],
                condition=Q(channel_message_id__isnull=False),
                name="message_unique_channel_id",
            ),
            # One bot answer per customer message, whatever races happen between workers.
            models.UniqueConstraint(fields=["reply_to"], condition=Q(author_kind="bot"), name="message_one_bot_reply"),
        ]
        indexes = [
            models.Index(fields=["conversation", "id"], name="message_conversation_id"),
            # The sweeper scans only unfinished work; a partial index keeps that cheap at scale.
            models.Index(
                fields=["status_changed_at"],
                condition=Q(status__in=["received", "processing"]),
                name="message_unfinished",
            ),
            GinIndex(fields=["search_index"], name="message_search_index"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.direction} {self.status}"


class Attachment(models.Model):
    """A file a message carries: an image, a voice note, a video or a file (apps/conversations/media).

    The bytes are encrypted at rest with the text columns' key ring (media/store.py). Media from
    WeChat arrives as a reference (``source``: the channel's media id, a URL) that the processing
    task fetches; uploads (simulator, inbound API, Wechaty bridge, agents) arrive with their bytes.
    Whatever goes wrong on the way is recorded here (``error_code``, ``error``), never dropped.
    """

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VOICE = "voice", _("Voice")
        VIDEO = "video", _("Video")
        FILE = "file", _("File")

    class Role(models.TextChoices):
        MAIN = "main", _("Content")
        THUMB = "thumb", _("Thumbnail")

    class Status(models.TextChoices):
        PENDING = "pending", _("Not fetched yet")
        STORED = "stored", _("Stored")
        FAILED = "failed", _("Could not be stored")
        PURGED = "purged", _("Purged after the retention period")

    class OcrStatus(models.TextChoices):
        PENDING = "pending", _("Not read yet")
        READ = "read", _("Text found")
        UNREADABLE = "unreadable", _("No readable text")

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.MAIN)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.IMAGE)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.STORED)
    # The channel's reference while the file is not fetched yet (media id, URL); kept for the record.
    source = models.JSONField(_("source"), default=dict, blank=True)
    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/", blank=True)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    # Sniffed from the bytes, never taken from the name or the sender's header.
    content_type = models.CharField(_("content type"), max_length=64, blank=True)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"), null=True, blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    fetch_attempts = models.PositiveSmallIntegerField(_("fetch attempts"), default=0)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # Text read from it: OCR for an image, speech recognition for a voice note (``text_source``).
    ocr_status = models.CharField(_("text"), max_length=16, choices=OcrStatus.choices, default=OcrStatus.PENDING)
    ocr_text = EncryptedTextField(_("text read"), blank=True)
    ocr_ms = models.PositiveIntegerField(_("reading time (ms)"), null=True, blank=True)
    text_source = models.CharField(_("text from"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    purged_at = models.DateTimeField(_("purged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        constraints = [
            models.UniqueConstraint(fields=["message", "role"], name="attachment_one_per_role"),
        ]
        indexes = [
            # The retention purge walks stored files oldest first.
            models.Index(fields=["created_at"], condition=Q(status="stored"), name="attachment_stored_age"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for message #{self.message_id}"


class ConversationEvent(models.Model):
    """Who changed a conversation's mode or assignee, and when: the timeline's system events.

    The table predates the spine owning it (it was the console's), hence its name.
    """

    class Kind(models.TextChoices):
        REQUESTED_HUMAN = "requested_human", _("Customer asked for a human")
        TAKEN_OVER = "taken_over", _("Taken over")
        HANDED_BACK = "handed_back", _("Handed back to the bot")
        ASSIGNED = "assigned", _("Assigned")
        # Routing (apps/routing): given to an agent by the assigner, or sent back to the queue.
        AUTO_ASSIGNED = "auto_assigned", _("Assigned automatically")
        REQUEUED = "requeued", _("Returned to the queue")
        CLOSED = "closed", _("Closed")
        # Lifecycle: a customer writing soon after the close gets the same conversation back; off
        # hours (DESK_ROUTING_OFF_HOURS=bot) a hand-over is left with the bot.
        REOPENED = "reopened", _("Reopened by the customer")
        OFF_HOURS = "off_hours", _("Off hours: left with the bot")
        # The channel's own staff serve it (a WeCom servicer in the WeCom app), or stopped doing so.
        SERVED_IN_CHANNEL = "served_in_channel", _("Served in the channel's own app")
        CHANNEL_REFUSED = "channel_refused", _("The channel refused a reply: queued for a human")

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        db_table = "console_conversationevent"
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        indexes = [models.Index(fields=["conversation", "created_at"], name="console_event_conversation")]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.kind}"


class Satisfaction(models.Model):
    """The customer's 1-5 rating of a closed conversation (services/satisfaction.py).

    Requested when a resolved conversation closes; asked through the channel (a text message, or
    the channel's own menu: ``via``); answered by the customer's next message within
    DESK_CSAT_WINDOW_S. ``agent`` is whoever was assigned at the close (none: the bot resolved it).
    """

    class Via(models.TextChoices):
        MESSAGE = "message", _("Text message")
        MENU = "menu", _("The channel's menu")

    conversation = models.OneToOneField(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="satisfaction"
    )
    channel = models.CharField(_("channel"), max_length=32, choices=channel_choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.SET_NULL, null=True, blank=True
    )
    via = models.CharField(_("asked by"), max_length=8, choices=Via.choices)
    # Null until the channel has asked; a channel that could not ask says why in not_asked.
    asked_at = models.DateTimeField(_("asked at"), null=True, blank=True)
    not_asked = models.CharField(_("not asked because"), max_length=100, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    # The customer's own words: encrypted at rest like message bodies.
    comment = EncryptedTextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answer = models.ForeignKey(
        Message, verbose_name=_("answer"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5), name="satisfaction_score_1_to_5"
            ),
        ]
        indexes = [models.Index(fields=["agent", "answered_at"], name="satisfaction_agent_answered")]

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.score or '-'}"
