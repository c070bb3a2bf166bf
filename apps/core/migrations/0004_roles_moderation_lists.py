"""Roles after content safety gained admin-editable categories and an allowlist.

The matrix is 0003's with admins managing moderation categories and allowlist entries, like the
blacklist itself. Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0003_roles_wecom_servicer")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    admin=[("moderation", f"{verb}_contentcategory") for verb in CRUD]
    + [("moderation", f"{verb}_allowlistentry") for verb in CRUD],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_roles_wecom_servicer"),
        ("moderation", "0003_categories_allowlist_routes"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
