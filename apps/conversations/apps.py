from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "apps.conversations"
    verbose_name = _("Conversations")

    def ready(self) -> None:
        from apps.conversations.media.retention import media_rekey
        from apps.core.signals import files_rekey

        files_rekey.connect(media_rekey, dispatch_uid="conversations.media_rekey")
