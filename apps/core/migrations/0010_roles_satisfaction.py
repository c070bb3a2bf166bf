"""Roles after satisfaction ratings (conversations.Satisfaction): managers and admins read them.

The matrix is 0009's plus view_satisfaction for both; nobody edits a customer's rating.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib
from typing import Any

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0009_roles_sla")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_grant(apps, roles), permissions_create
CRUD = _previous.CRUD

ROLES: dict[str, list[tuple[str, str]]] = {role: list(grants) for role, grants in _previous.ROLES.items()}
ROLES["manager"] += [("conversations", "view_satisfaction")]
ROLES["admin"] += [("conversations", "view_satisfaction")]


def roles_grant(apps: Any) -> None:
    _helpers.roles_grant(apps, ROLES)


def roles_sync(apps: Any, schema_editor: Any) -> None:
    _helpers.permissions_create(apps)
    roles_grant(apps)


def roles_unsync(apps: Any, schema_editor: Any) -> None:
    _previous.roles_grant(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0009_roles_sla"),
        ("conversations", "0011_satisfaction"),
    ]

    operations = [migrations.RunPython(roles_sync, roles_unsync)]
