"""Roles after menu clicks gained admin-configured replies (wechat.MenuReply).

The matrix is 0004's with admins managing menu replies, like the other channel configuration.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0004_roles_moderation_lists")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    admin=[("wechat", f"{verb}_menureply") for verb in CRUD],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_roles_moderation_lists"),
        ("wechat", "0006_menu_reply"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
