"""Roles after customer profiles and labels (apps.customers).

The matrix is 0010's plus: agents read profiles and labels, label customers and conversations,
write notes on customers and merge profiles (customers.merge_person); managers read them;
admins manage the labels themselves. Tests grant ROLES from here (the newest roles migration)
after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0010_roles_satisfaction")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")  # roles_extended, roles_step
CRUD = _helpers.CRUD

_READ = [
    ("customers", "view_person"),
    ("customers", "view_identity"),
    ("customers", "view_label"),
    ("customers", "view_customerlabel"),
    ("customers", "view_conversationlabel"),
    ("customers", "view_customernote"),
]

ROLES = _helpers.roles_extended(
    _previous.ROLES,
    agent=[
        *_READ,
        ("customers", "merge_person"),
        ("customers", "add_customerlabel"),
        ("customers", "delete_customerlabel"),
        ("customers", "add_conversationlabel"),
        ("customers", "delete_conversationlabel"),
        ("customers", "add_customernote"),
    ],
    manager=_READ,
    admin=[("customers", f"{verb}_label") for verb in CRUD],
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0010_roles_satisfaction"),
        ("customers", "0001_initial"),
    ]

    operations = [_helpers.roles_step(ROLES, _previous.ROLES)]
