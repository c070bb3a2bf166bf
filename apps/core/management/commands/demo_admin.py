"""Create the demo superuser for the one-command local desk. Refuses outside DEBUG."""

import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create (once) the local demo superuser 'admin' so the admin can be opened right away."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_admin only runs with DEBUG on; create real users with createsuperuser.")
        username = os.environ.get("DESK_DEMO_ADMIN_USER", "admin")
        password = os.environ.get("DESK_DEMO_ADMIN_PASSWORD", "admin")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Demo admin '{username}' already exists.")
            return
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created demo admin '{username}' / '{password}' (local use only)."))
