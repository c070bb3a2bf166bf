"""Roles after business hours (routing.BusinessHours, its OpeningInterval and Holiday rows).

The matrix is 0007's with admins managing the hours, like the teams and rules beside them.
Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0007_roles_human_request_examples")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    admin=[
        ("routing", f"{verb}_{model}") for model in ("businesshours", "openinginterval", "holiday") for verb in CRUD
    ],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_roles_human_request_examples"),
        ("routing", "0002_business_hours"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
