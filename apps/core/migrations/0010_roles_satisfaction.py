"""Roles after satisfaction ratings (conversations.Satisfaction): managers and admins read them.

The matrix is 0009's plus view_satisfaction for both; nobody edits a customer's rating.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0009_roles_sla")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    manager=[("conversations", "view_satisfaction")],
    admin=[("conversations", "view_satisfaction")],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0009_roles_sla"),
        ("conversations", "0011_satisfaction"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
