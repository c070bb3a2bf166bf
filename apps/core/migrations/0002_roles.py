"""The staff roles (agent, manager, admin) as groups, with their grants as of this migration.

A later change of the matrix is a later migration that derives its ROLES from this one (0003: the
agents' WeCom userids moved to apps.wechat); tests grant the newest one.

apps/console/migrations/0002_agent_group.py created "agent" with the console's first needs; this
migration sets agent's permissions to exactly ROLES["agent"] (a superset of those).
docs/security.md ("Roles") explains each row.
Superusers hold every permission and are in no group.
"""

from typing import Any

from django.db import migrations

CRUD = ("add", "change", "delete", "view")

# role -> [(app_label, codename)]
Roles = dict[str, list[tuple[str, str]]]
ROLES: Roles = {
    # Serve customers: the console, the review queue (confirm/dismiss), notes. No blacklist or
    # endpoint edits, no exports, no audit log.
    "agent": [
        ("console", "use_console"),
        ("console", "view_cannedresponse"),
        ("console", "add_note"),
        ("console", "view_note"),
        ("conversations", "view_conversation"),
        ("conversations", "view_message"),
        ("conversations", "view_customer"),
        ("moderation", "view_flag"),
        ("moderation", "change_flag"),
    ],
    # Read the figures and export them; read conversations and the audit log. Never reply:
    # no console.use_console.
    "manager": [
        ("reports", "manager"),
        ("audit", "view_auditlog"),
        ("audit", "export_auditlog"),
        ("conversations", "view_conversation"),
        ("conversations", "view_message"),
        ("conversations", "view_customer"),
    ],
    # Configure the desk: content safety, LLM endpoints and prompts, knowledge, channels, canned
    # responses, agent profiles, machine tokens, login lockouts. No staff accounts (auth.*: a
    # change_user grant could make itself superuser), no console, no exports.
    "admin": [
        *[("moderation", f"{verb}_term") for verb in CRUD],
        *[("moderation", f"{verb}_semanticrule") for verb in CRUD],
        ("moderation", "view_flag"),
        ("moderation", "change_flag"),
        *[("llm", f"{verb}_endpoint") for verb in CRUD],
        *[("llm", f"{verb}_promptsettings") for verb in CRUD],
        *[("knowledge", f"{verb}_entry") for verb in CRUD],
        *[("wechat", f"{verb}_wechataccount") for verb in CRUD],
        ("wechat", "view_wechatcontact"),
        ("wechat", "view_kfcursor"),
        *[("console", f"{verb}_cannedresponse") for verb in CRUD],
        *[("console", f"{verb}_agentprofile") for verb in CRUD],
        *[("core", f"{verb}_apitoken") for verb in CRUD],
        ("audit", "view_auditlog"),
        ("axes", "view_accessattempt"),
        ("axes", "delete_accessattempt"),
        ("axes", "view_accesslog"),
        ("axes", "view_accessfailurelog"),
    ],
}

# What apps/console/migrations/0002_agent_group.py granted: restored when this one is reversed.
CONSOLE_AGENT = {
    ("console", "use_console"),
    ("console", "view_cannedresponse"),
    ("conversations", "view_conversation"),
    ("conversations", "view_message"),
    ("conversations", "view_customer"),
    ("moderation", "view_flag"),
}


def _permissions(apps: Any, wanted: list[tuple[str, str]] | set[tuple[str, str]]) -> list[Any]:
    Permission = apps.get_model("auth", "Permission")
    found = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.select_related("content_type").filter(
            content_type__app_label__in={app for app, _ in wanted}, codename__in={code for _, code in wanted}
        )
    }
    missing = sorted(set(wanted) - set(found))
    if missing:
        # A typo or a renamed model must stop the deploy, not silently shrink a role.
        raise RuntimeError(f"roles migration: permissions not found: {missing}")
    return [found[key] for key in wanted]


def roles_grant(apps: Any, roles: dict[str, list[tuple[str, str]]] = ROLES) -> None:
    """Create the groups and set each one's permissions to exactly ``roles`` (idempotent)."""
    Group = apps.get_model("auth", "Group")
    for name, wanted in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(apps, wanted))


def permissions_create(apps: Any) -> None:
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations (post_migrate); the grants need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def roles_extended(previous: dict[str, list[tuple[str, str]]], **added: list[tuple[str, str]]) -> Roles:
    """A later roles migration's matrix: a copy of ``previous`` with ``added`` grants per role."""
    roles = {role: list(grants) for role, grants in previous.items()}
    for role, grants in added.items():
        roles[role] += grants
    return roles


def roles_step(roles: Roles, previous: Roles | None) -> migrations.RunPython:
    """The one operation of a later roles migration: every group set to exactly ``roles``; backwards,
    to ``previous`` (None: nothing to undo). One definition, so that a new model's grants are a
    two-line migration instead of a copy of this machinery."""

    def sync(apps: Any, schema_editor: Any) -> None:
        permissions_create(apps)
        roles_grant(apps, roles)

    def unsync(apps: Any, schema_editor: Any) -> None:
        if previous is not None:
            roles_grant(apps, previous)

    return migrations.RunPython(sync, unsync)


def roles_sync(apps: Any, schema_editor: Any) -> None:
    permissions_create(apps)
    roles_grant(apps)


def roles_unsync(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=["manager", "admin"]).delete()
    agent = Group.objects.filter(name="agent").first()
    if agent is not None:
        agent.permissions.set(_permissions(apps, CONSOLE_AGENT))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0002_append_only"),
        ("axes", "0010_accessattemptexpiration"),
        ("console", "0002_agent_group"),
        ("conversations", "0003_attachment"),
        ("knowledge", "0001_initial"),
        ("llm", "0001_initial"),
        ("moderation", "0001_initial"),
        ("reports", "0001_initial"),
        ("wechat", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_sync, roles_unsync)]
