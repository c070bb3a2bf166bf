"""Roles after content safety gained admin-editable categories and an allowlist.

The matrix is 0003's with admins managing moderation categories and allowlist entries, like the
blacklist itself. Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib
from typing import Any

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0003_roles_wecom_servicer")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_grant(apps, roles), permissions_create
CRUD = _previous.CRUD

ROLES: dict[str, list[tuple[str, str]]] = {role: list(grants) for role, grants in _previous.ROLES.items()}
ROLES["admin"] += [("moderation", f"{verb}_contentcategory") for verb in CRUD]
ROLES["admin"] += [("moderation", f"{verb}_allowlistentry") for verb in CRUD]


def roles_grant(apps: Any) -> None:
    _helpers.roles_grant(apps, ROLES)


def roles_sync(apps: Any, schema_editor: Any) -> None:
    _helpers.permissions_create(apps)
    roles_grant(apps)


def roles_unsync(apps: Any, schema_editor: Any) -> None:
    _previous.roles_grant(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_roles_wecom_servicer"),
        ("moderation", "0003_categories_allowlist_routes"),
    ]

    operations = [migrations.RunPython(roles_sync, roles_unsync)]
