"""Roles after shop connectors (apps.connectors).

The matrix is 0011's plus: agents see a customer's orders in the inbox and start after-sales
requests; managers see orders and read the look-up audit; admins configure connectors and read the
audit. Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0011_roles_customers")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    agent=[("connectors", "see_orders"), ("connectors", "start_after_sale")],
    manager=[("connectors", "see_orders"), ("connectors", "view_lookup")],
    admin=[*[("connectors", f"{verb}_connector") for verb in CRUD], ("connectors", "view_lookup")],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0011_roles_customers"),
        ("connectors", "0001_initial"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
