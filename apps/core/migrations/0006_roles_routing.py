"""Roles after routing (apps/routing): admins manage teams, routing rules and agents' capacity.

The matrix is 0005's plus those grants; agents set their own availability in the console (a
service call checked by the console permission), so they need no model permission for it.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0005_roles_menu_replies")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    admin=[("routing", f"{verb}_{model}") for model in ("team", "routingrule", "agentstatus") for verb in CRUD],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_roles_menu_replies"),
        ("routing", "0001_initial"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
