from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.core.models import ApiToken
from apps.core.services import api_token_create, api_token_revoke


class ApiTokenForm(forms.ModelForm[ApiToken]):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiToken
        fields = ("name", "scopes")


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, admin.ModelAdmin[ApiToken]):
    form = ApiTokenForm
    list_display = ("name", "prefix", "scopes", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        # A token is immutable once issued: revoke it and issue another instead.
        return ("name", "scopes", *self.readonly_fields) if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            return
        issued = api_token_create(
            name=obj.name, scopes=list(form.cleaned_data["scopes"]), created_by_id=request.user.pk
        )
        obj.pk, obj.prefix = issued.token.pk, issued.token.prefix
        obj._state.adding = False
        messages.warning(
            request, _("Copy this token now; it will not be shown again: %(token)s") % {"token": issued.plaintext}
        )

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoke, so the audit trail keeps the token's name

    @admin.action(description=_("Revoke selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for token in queryset:
            api_token_revoke(token=token)
        messages.success(request, _("Revoked."))
