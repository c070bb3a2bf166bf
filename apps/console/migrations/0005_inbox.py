# The inbox: per-agent read markers (unread counts) and notification switches.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0004_spine_owns_events"),
        ("conversations", "0011_satisfaction"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AgentPreference",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("notify_assigned", models.BooleanField(default=True, verbose_name="a conversation is assigned to me")),
                (
                    "notify_message",
                    models.BooleanField(default=True, verbose_name="one of my conversations gets a message"),
                ),
                ("notify_queue", models.BooleanField(default=True, verbose_name="my team's queue grows")),
                ("sound", models.BooleanField(default=True, verbose_name="play a sound")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="console_preference",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="agent",
                    ),
                ),
            ],
            options={"verbose_name": "agent preference", "verbose_name_plural": "agent preferences"},
        ),
        migrations.CreateModel(
            name="ReadMarker",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("last_read_message_id", models.BigIntegerField(default=0, verbose_name="last read message")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="conversations.conversation",
                        verbose_name="conversation",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="agent",
                    ),
                ),
            ],
            options={
                "verbose_name": "read marker",
                "verbose_name_plural": "read markers",
                "constraints": [
                    models.UniqueConstraint(fields=("user", "conversation"), name="console_readmarker_unique")
                ],
            },
        ),
    ]
