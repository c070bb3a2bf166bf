"""Roles after routing (apps/routing): admins manage teams, routing rules and agents' capacity.

The matrix is 0005's plus those grants; agents set their own availability in the console (a
service call checked by the console permission), so they need no model permission for it.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib
from typing import Any

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0005_roles_menu_replies")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_grant(apps, roles), permissions_create
CRUD = _previous.CRUD

ROLES: dict[str, list[tuple[str, str]]] = {role: list(grants) for role, grants in _previous.ROLES.items()}
ROLES["admin"] += [("routing", f"{verb}_{model}") for model in ("team", "routingrule", "agentstatus") for verb in CRUD]


def roles_grant(apps: Any) -> None:
    _helpers.roles_grant(apps, ROLES)


def roles_sync(apps: Any, schema_editor: Any) -> None:
    _helpers.permissions_create(apps)
    roles_grant(apps)


def roles_unsync(apps: Any, schema_editor: Any) -> None:
    _previous.roles_grant(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_roles_menu_replies"),
        ("routing", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_sync, roles_unsync)]
