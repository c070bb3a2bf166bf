"""Roles after SLA policies (routing.SlaPolicy, routing.SlaBreach).

The matrix is 0008's with admins managing the policies, like the teams and hours beside them, and
admins and managers reading the breaches (written by the routing beat only; the reports count them).
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib
from typing import Any

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0008_roles_business_hours")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_grant(apps, roles), permissions_create
CRUD = _previous.CRUD

ROLES: dict[str, list[tuple[str, str]]] = {role: list(grants) for role, grants in _previous.ROLES.items()}
ROLES["admin"] += [("routing", f"{verb}_slapolicy") for verb in CRUD] + [("routing", "view_slabreach")]
ROLES["manager"] += [("routing", "view_slabreach")]


def roles_grant(apps: Any) -> None:
    _helpers.roles_grant(apps, ROLES)


def roles_sync(apps: Any, schema_editor: Any) -> None:
    _helpers.permissions_create(apps)
    roles_grant(apps)


def roles_unsync(apps: Any, schema_editor: Any) -> None:
    _previous.roles_grant(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_roles_business_hours"),
        ("routing", "0003_sla_policies"),
    ]

    operations = [migrations.RunPython(roles_sync, roles_unsync)]
