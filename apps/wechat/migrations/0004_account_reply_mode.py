# Official Accounts reply through custom-send or passively in the callback's response; replies
# waiting for a callback to carry them are parked in OaPassiveReply.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0006_channel_choices_from_registry"),
        ("wechat", "0003_wecomservicer"),
    ]

    operations = [
        migrations.AddField(
            model_name="wechataccount",
            name="reply_mode",
            field=models.CharField(
                choices=[("custom", "Custom-send API"), ("passive", "Passive reply"), ("auto", "Automatic")],
                default="auto",
                max_length=16,
                verbose_name="reply mode",
            ),
        ),
        migrations.AddField(
            model_name="wechataccount",
            name="passive_since",
            field=models.DateTimeField(blank=True, null=True, verbose_name="passive replies since"),
        ),
        migrations.AddField(
            model_name="wechataccount",
            name="passive_reason",
            field=models.CharField(blank=True, max_length=200, verbose_name="why passive"),
        ),
        migrations.CreateModel(
            name="OaPassiveReply",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("openid", models.CharField(max_length=64, verbose_name="OpenID")),
                ("ready_at", models.DateTimeField(auto_now_add=True, verbose_name="ready at")),
                ("handed_out_at", models.DateTimeField(blank=True, null=True, verbose_name="handed out at")),
                (
                    "handed_out_in",
                    models.CharField(blank=True, max_length=100, verbose_name="handed out in callback"),
                ),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="passive_replies",
                        to="wechat.wechataccount",
                    ),
                ),
                (
                    "message",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oa_passive_reply",
                        to="conversations.message",
                        verbose_name="reply",
                    ),
                ),
                (
                    "reply_to",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="conversations.message",
                    ),
                ),
            ],
            options={
                "verbose_name": "passive reply",
                "verbose_name_plural": "passive replies",
                "indexes": [
                    models.Index(
                        condition=models.Q(("handed_out_at__isnull", True)),
                        fields=["account", "openid", "ready_at"],
                        name="oa_passive_waiting",
                    )
                ],
            },
        ),
    ]
