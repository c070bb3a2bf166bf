"""Roles after the agents' WeCom userids moved from console.AgentProfile to wechat.WecomServicer.

The matrix is 0002's with that one change: admins manage WeCom servicers where they managed agent
profiles. Tests grant ROLES from here (the newest roles migration) after a flush.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("apps.core.migrations.0002_roles")
CRUD = _previous.CRUD

ROLES: dict[str, list[tuple[str, str]]] = {
    role: [grant for grant in grants if grant not in {("console", f"{verb}_agentprofile") for verb in CRUD}]
    for role, grants in _previous.ROLES.items()
}
ROLES["admin"] += [("wechat", f"{verb}_wecomservicer") for verb in CRUD]


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_roles"),
        ("wechat", "0003_wecomservicer"),
    ]

    operations = [_previous.roles_step(ROLES, None)]
