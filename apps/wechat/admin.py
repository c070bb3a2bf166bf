from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.wechat.models import (
    KfCursor,
    MenuReply,
    OaPassiveReply,
    WechatAccount,
    WechatContact,
    WecomServicer,
)


class WechatAccountForm(forms.ModelForm[WechatAccount]):
    # Secrets are write-only in the admin: shown masked, kept when left blank on edit.
    secret = forms.CharField(label=_("AppSecret / kf Secret"), widget=forms.PasswordInput, required=False)

    class Meta:
        model = WechatAccount
        fields = (
            "kind",
            "name",
            "app_id",
            "secret",
            "token",
            "encoding_aes_key",
            "reply_mode",
            "passive_since",
            "is_active",
            "kf_welcome_text",
            "kf_welcome_menu",
            "kf_closing_text",
            "kf_closing_rating",
        )
        # Encrypted text columns would default to a textarea; these are one-line values.
        widgets = {"token": forms.TextInput, "encoding_aes_key": forms.TextInput(attrs={"maxlength": 43})}

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret") or ""
        if not secret and self.instance.pk:
            return self.instance.secret
        if not secret:
            raise forms.ValidationError(_("This field is required."))
        return secret

    def clean_encoding_aes_key(self) -> str:
        key = self.cleaned_data.get("encoding_aes_key") or ""
        if key and len(key) != 43:
            raise forms.ValidationError(_("The EncodingAESKey has 43 characters."))
        if not key and self.cleaned_data.get("kind") == WechatAccount.Kind.WECOM_KF:
            raise forms.ValidationError(_("WeCom callbacks are always encrypted: the EncodingAESKey is required."))
        return key


@admin.register(WechatAccount)
class WechatAccountAdmin(AuditedAdminMixin, admin.ModelAdmin[WechatAccount]):
    form = WechatAccountForm
    list_display = ("name", "kind", "app_id", "reply_mode", "passive_since", "is_active", "updated_at")
    list_filter = ("kind", "reply_mode", "is_active")
    search_fields = ("name", "app_id")
    # Why an automatic account replies passively; clearing passive_since lets it try custom-send again.
    readonly_fields = ("passive_reason",)


@admin.register(WechatContact)
class WechatContactAdmin(admin.ModelAdmin[WechatContact]):
    list_display = (
        "user_id",
        "account",
        "open_kfid",
        "window_opened_at",
        "sent_in_window",
        "quota_error_code",
        "quota_error_at",
    )
    list_filter = ("account", "quota_error_code")
    list_select_related = ("account",)
    search_fields = ("user_id",)
    readonly_fields = [field.name for field in WechatContact._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(KfCursor)
class KfCursorAdmin(admin.ModelAdmin[KfCursor]):
    list_display = ("open_kfid", "account", "callback_at", "synced_at", "messages_synced", "last_error")
    list_select_related = ("account",)
    readonly_fields = [field.name for field in KfCursor._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WecomServicer)
class WecomServicerAdmin(AuditedAdminMixin, admin.ModelAdmin[WecomServicer]):
    """Which WeCom userid serves kf sessions for a desk agent (WeCom names the servicer by it)."""

    list_display = ("user", "userid")
    search_fields = ("user__username", "userid")
    autocomplete_fields = ("user",)


@admin.register(OaPassiveReply)
class OaPassiveReplyAdmin(admin.ModelAdmin[OaPassiveReply]):
    """Official Account replies waiting for the customer's next callback, and which callback took them."""

    list_display = ("openid", "account", "message", "ready_at", "handed_out_at", "handed_out_in")
    list_filter = ("account",)
    list_select_related = ("account", "message")
    search_fields = ("openid", "handed_out_in")
    readonly_fields = [field.name for field in OaPassiveReply._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MenuReply)
class MenuReplyAdmin(AuditedAdminMixin, admin.ModelAdmin[MenuReply]):
    """Fixed answers to menu clicks; a key without one is answered by the bot like a question."""

    list_display = ("key", "account", "is_active", "updated_at")
    list_filter = ("account", "is_active")
    list_select_related = ("account",)
    search_fields = ("key", "reply")
