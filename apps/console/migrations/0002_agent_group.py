"""The "agent" group: staff in it may use the console and read what they work on."""

from django.db import migrations

AGENT_PERMISSIONS = [
    ("console", "use_console"),
    ("console", "view_cannedresponse"),
    ("conversations", "view_conversation"),
    ("conversations", "view_message"),
    ("conversations", "view_customer"),
    ("moderation", "view_flag"),
]


def create_agent_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="agent")
    for app_label, codename in AGENT_PERMISSIONS:
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            group.permissions.add(permission)


def remove_agent_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="agent").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_initial"),
        ("conversations", "0002_message_answer_meta"),
        ("moderation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_agent_group, remove_agent_group)]
