"""Roles after the human-request detector gained admin-editable examples (knowledge.HumanRequestExample).

The matrix is 0006's with admins managing the examples, like the knowledge entries beside them.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0006_roles_routing")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    admin=[("knowledge", f"{verb}_humanrequestexample") for verb in CRUD],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_roles_routing"),
        ("knowledge", "0002_human_request_example"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
