"""Roles after SLA policies (routing.SlaPolicy, routing.SlaBreach).

The matrix is 0008's with admins managing the policies, like the teams and hours beside them, and
admins and managers reading the breaches (written by the routing beat only; the reports count them).
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0008_roles_business_hours")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    admin=[("routing", f"{verb}_slapolicy") for verb in CRUD] + [("routing", "view_slabreach")],
    manager=[("routing", "view_slabreach")],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_roles_business_hours"),
        ("routing", "0003_sla_policies"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
