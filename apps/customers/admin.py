"""Labels (configuration, audited like every admin screen) and customer profiles (read only).

The profile screen's URLs also carry the inbox's JSON endpoints (views.py), as the console's
entry carries the console: same login, same CSRF, names under the admin namespace.
"""

from django.contrib import admin
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from apps.audit.admin_mixins import AuditedAdminMixin
from apps.core.admin_mixins import ReadOnlyAdminMixin
from apps.customers import views
from apps.customers.models import Identity, Label, Person


@admin.register(Label)
class LabelAdmin(AuditedAdminMixin, admin.ModelAdmin[Label]):
    list_display = ("name", "swatch", "description")
    search_fields = ("name", "description")

    @admin.display(description=_("colour"))
    def swatch(self, obj: Label) -> SafeString:
        # The colour is validated as #rrggbb (model and database), and format_html escapes it anyway.
        return format_html(
            '<span style="display:inline-block;width:1.2em;height:1.2em;border-radius:3px;'
            'vertical-align:middle;background:{}"></span> {}',
            obj.colour,
            obj.colour,
        )


class IdentityInline(ReadOnlyAdminMixin, admin.TabularInline[Identity, Person]):
    model = Identity
    fk_name = "person"
    fields = ("customer", "linked_by", "linked_at", "linked_by_user", "previous_person")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Person)
class PersonAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Person]):
    """Read only: profiles change through the inbox's services, which audit each change."""

    list_display = ("__str__", "unionid_linked", "created_at", "merged_into")
    list_select_related = ("merged_into",)
    search_fields = ("display_name", "identities__customer__display_name", "identities__customer__external_id")
    fields = ("display_name", "unionid", "created_at", "merged_into", "merged_at")
    readonly_fields = fields
    inlines = [IdentityInline]

    @admin.display(boolean=True, description=_("WeChat unionid"))
    def unionid_linked(self, obj: Person) -> bool:
        return bool(obj.unionid)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        endpoints = [
            path("api/profile/<int:customer_id>/", wrap(views.profile), name="customers_profile"),
            path("api/labels/", wrap(views.labels), name="customers_labels"),
            path("api/conversation-labels/", wrap(views.conversation_labels), name="customers_conversation_labels"),
            path("api/label/", wrap(views.label), name="customers_label"),
            path("api/note/", wrap(views.note), name="customers_note"),
            path("api/merge/", wrap(views.merge), name="customers_merge"),
            path("api/unmerge/", wrap(views.unmerge), name="customers_unmerge"),
            path("api/find/", wrap(views.find), name="customers_find"),
        ]
        # Before the admin's own "<path:object_id>/" catch-all.
        return [*endpoints, *super().get_urls()]
