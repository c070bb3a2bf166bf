# Agents' WeCom userids move from the console's AgentProfile to the channel that needs them.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_userids(apps, schema_editor):
    AgentProfile = apps.get_model("console", "AgentProfile")
    WecomServicer = apps.get_model("wechat", "WecomServicer")
    WecomServicer.objects.bulk_create(
        [
            WecomServicer(user_id=profile.user_id, userid=profile.wecom_userid)
            for profile in AgentProfile.objects.exclude(wecom_userid="")
        ]
    )


def copy_back(apps, schema_editor):
    AgentProfile = apps.get_model("console", "AgentProfile")
    WecomServicer = apps.get_model("wechat", "WecomServicer")
    for servicer in WecomServicer.objects.all():
        AgentProfile.objects.update_or_create(user_id=servicer.user_id, defaults={"wecom_userid": servicer.userid})


class Migration(migrations.Migration):

    dependencies = [
        ("wechat", "0002_encrypt_at_rest"),
        ("console", "0003_encrypt_at_rest"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WecomServicer",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("userid", models.CharField(max_length=64, verbose_name="WeCom userid")),
                ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="wecom_servicer", to=settings.AUTH_USER_MODEL, verbose_name="user")),
            ],
            options={
                "verbose_name": "WeCom servicer",
                "verbose_name_plural": "WeCom servicers",
            },
        ),
        migrations.RunPython(copy_userids, copy_back),
    ]
