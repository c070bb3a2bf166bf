"""WeChat channel state: the accounts we serve, each customer's reply window and quota,
and the kf sync cursor. The simulator channel needs none of this."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import Customer
from apps.core.fields import EncryptedTextField


class WechatAccount(models.Model):
    class Kind(models.TextChoices):
        OFFICIAL_ACCOUNT = "official_account", _("Official Account")
        WECOM_KF = "wecom_kf", _("WeCom customer service")

    class ReplyMode(models.TextChoices):
        """How an Official Account answers (docs/architecture.md, "Official Account passive replies")."""

        # message/custom/send: needs a verified account.
        CUSTOM = "custom", _("Custom-send API")
        # In the HTTP response to the customer's own callback, within WeChat's 5 s.
        PASSIVE = "passive", _("Passive reply")
        # Custom-send until WeChat answers 48001 (no permission), then passive (passive_since).
        AUTO = "auto", _("Automatic")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=64)
    # The AppID of an Official Account, or the CorpID of a WeCom corp; it is also the URL key.
    app_id = models.CharField(_("AppID / CorpID"), max_length=64)
    # Credentials are encrypted at rest like message text (docs/security.md).
    secret = EncryptedTextField(_("AppSecret / kf Secret"))
    token = EncryptedTextField(_("callback token"))
    # 43 characters; empty means plain mode (Official Account only: WeCom always encrypts).
    encoding_aes_key = EncryptedTextField(_("EncodingAESKey"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    reply_mode = models.CharField(_("reply mode"), max_length=16, choices=ReplyMode.choices, default=ReplyMode.AUTO)
    # Set when an automatic account found custom-send refused; clear it to try custom-send again.
    passive_since = models.DateTimeField(_("passive replies since"), null=True, blank=True)
    passive_reason = models.CharField(_("why passive"), max_length=200, blank=True)
    # WeCom 客服: what the customer sees when a session starts and ends (kf/send_msg_on_event).
    kf_welcome_text = models.TextField(_("welcome message"), blank=True)
    kf_welcome_menu = models.TextField(
        _("welcome menu"), blank=True, help_text=_("One common question per line: shown as buttons under the welcome.")
    )
    kf_closing_text = models.TextField(_("closing message"), blank=True)
    kf_closing_rating = models.BooleanField(
        _("ask for a rating when closing"),
        default=False,
        help_text=_("A 1-5 satisfaction menu after the closing message."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("WeChat account")
        verbose_name_plural = _("WeChat accounts")
        constraints = [
            models.UniqueConstraint(fields=["kind", "app_id"], name="wechat_account_unique_app"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id})"

    @property
    def replies_passively(self) -> bool:
        return self.reply_mode == self.ReplyMode.PASSIVE or (
            self.reply_mode == self.ReplyMode.AUTO and self.passive_since is not None
        )


class WechatContact(models.Model):
    """One customer as a WeChat account sees them, with the reply window WeChat allows.

    WeChat accepts at most WECHAT_REPLY_BUDGET messages within WECHAT_REPLY_WINDOW_HOURS of
    the customer's last message; each new customer message opens a fresh window.
    """

    account = models.ForeignKey(WechatAccount, on_delete=models.PROTECT, related_name="contacts")
    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="wechat_contact")
    open_kfid = models.CharField(_("kf account id"), max_length=64, blank=True)
    user_id = models.CharField(_("OpenID / external_userid"), max_length=128)
    window_opened_at = models.DateTimeField(_("last customer message at"), null=True, blank=True)
    sent_in_window = models.PositiveSmallIntegerField(_("messages sent in window"), default=0)
    last_sent_at = models.DateTimeField(_("last sent at"), null=True, blank=True)
    quota_error_code = models.IntegerField(_("last quota error"), null=True, blank=True)
    quota_error_at = models.DateTimeField(_("quota error at"), null=True, blank=True)
    quota_errors = models.PositiveIntegerField(_("quota errors"), default=0)
    # WeCom 客服 session state as WeCom has it (KfState), mirrored; null: not known, ask WeCom.
    kf_state = models.PositiveSmallIntegerField(_("kf session state"), null=True, blank=True)
    kf_servicer_userid = models.CharField(_("WeCom servicer"), max_length=64, blank=True)
    kf_state_at = models.DateTimeField(_("kf state since"), null=True, blank=True)
    # Where the customer came from (the enter_session event's scene / scene_param).
    kf_scene = models.CharField(_("entry scene"), max_length=64, blank=True)
    kf_scene_param = models.CharField(_("entry scene parameter"), max_length=256, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("WeChat contact")
        verbose_name_plural = _("WeChat contacts")
        constraints = [
            models.UniqueConstraint(fields=["account", "open_kfid", "user_id"], name="wechat_contact_unique_user"),
        ]

    def __str__(self) -> str:
        return self.user_id


class KfCursor(models.Model):
    """Where kf/sync_msg stopped for one kf account. Saved with the messages of every page."""

    account = models.ForeignKey(WechatAccount, on_delete=models.PROTECT, related_name="kf_cursors")
    open_kfid = models.CharField(_("kf account id"), max_length=64)
    cursor = models.CharField(_("cursor"), max_length=128, blank=True)
    # The short-lived token from the latest callback; sync_msg without it is heavily rate limited.
    callback_token = models.CharField(_("callback token"), max_length=256, blank=True)
    callback_at = models.DateTimeField(_("last callback at"), null=True, blank=True)
    synced_at = models.DateTimeField(_("last complete sync at"), null=True, blank=True)
    messages_synced = models.PositiveBigIntegerField(_("messages synced"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("kf sync cursor")
        verbose_name_plural = _("kf sync cursors")
        constraints = [
            models.UniqueConstraint(fields=["account", "open_kfid"], name="kf_cursor_unique_kfid"),
        ]

    def __str__(self) -> str:
        return self.open_kfid


class InboundEvent(models.Model):
    """Events that store no customer message (subscribe) are deduplicated here: WeChat retries them too."""

    key = models.CharField(_("key"), max_length=255, unique=True)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")

    def __str__(self) -> str:
        return self.key


class WecomServicer(models.Model):
    """A desk agent's WeCom userid: what WeCom 客服 needs to name the servicer of a kf session."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="wecom_servicer"
    )
    userid = models.CharField(_("WeCom userid"), max_length=64)

    class Meta:
        verbose_name = _("WeCom servicer")
        verbose_name_plural = _("WeCom servicers")

    def __str__(self) -> str:
        return f"{self.user} ({self.userid})"


class OaPassiveReply(models.Model):
    """An Official Account reply waiting to ride on the response to one of the customer's callbacks.

    The adapter parks it (``ready_at``) instead of calling custom-send; the first callback of that
    customer that can carry it hands it out (``handed_out_at``, set once, under the message's row
    lock) and the outbound message becomes delivered then.
    """

    message = models.OneToOneField(
        "conversations.Message", verbose_name=_("reply"), on_delete=models.CASCADE, related_name="oa_passive_reply"
    )
    account = models.ForeignKey(WechatAccount, on_delete=models.PROTECT, related_name="passive_replies")
    openid = models.CharField(_("OpenID"), max_length=64)
    # The customer message it answers: the callback of that message waits for exactly this reply.
    reply_to = models.ForeignKey(
        "conversations.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ready_at = models.DateTimeField(_("ready at"), auto_now_add=True)
    handed_out_at = models.DateTimeField(_("handed out at"), null=True, blank=True)
    # The callback whose response carried it: "<MsgId>" or "<openid>:<CreateTime>" for an event.
    handed_out_in = models.CharField(_("handed out in callback"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("passive reply")
        verbose_name_plural = _("passive replies")
        indexes = [
            models.Index(
                fields=["account", "openid", "ready_at"],
                name="oa_passive_waiting",
                condition=models.Q(handed_out_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.openid} #{self.message_id}"


class MenuReply(models.Model):
    """A fixed answer to a menu click, instead of the bot's.

    ``key``: an Official Account menu button's key (CLICK) or link (VIEW), or the id of a WeCom 客服
    menu item (msgmenu). A click on a key with no reply here goes to the answerer like a question.
    """

    account = models.ForeignKey(
        WechatAccount,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="menu_replies",
        null=True,
        blank=True,
        help_text=_("Empty: the reply applies to every account without its own for this key."),
    )
    key = models.CharField(_("menu key"), max_length=1024)
    reply = models.TextField(_("reply"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("menu reply")
        verbose_name_plural = _("menu replies")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "key"], name="menu_reply_unique_key", condition=models.Q(account__isnull=False)
            ),
            models.UniqueConstraint(
                fields=["key"], name="menu_reply_unique_shared_key", condition=models.Q(account__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.key
