"""Roles after business hours (routing.BusinessHours, its OpeningInterval and Holiday rows).

The matrix is 0007's with admins managing the hours, like the teams and rules beside them.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib
from typing import Any

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0007_roles_human_request_examples")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_grant(apps, roles), permissions_create
CRUD = _previous.CRUD

ROLES: dict[str, list[tuple[str, str]]] = {role: list(grants) for role, grants in _previous.ROLES.items()}
ROLES["admin"] += [
    ("routing", f"{verb}_{model}") for model in ("businesshours", "openinginterval", "holiday") for verb in CRUD
]


def roles_grant(apps: Any) -> None:
    _helpers.roles_grant(apps, ROLES)


def roles_sync(apps: Any, schema_editor: Any) -> None:
    _helpers.permissions_create(apps)
    roles_grant(apps)


def roles_unsync(apps: Any, schema_editor: Any) -> None:
    _previous.roles_grant(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_roles_human_request_examples"),
        ("routing", "0002_business_hours"),
    ]

    operations = [migrations.RunPython(roles_sync, roles_unsync)]
