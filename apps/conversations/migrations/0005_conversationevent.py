# The spine owns ConversationEvent now (it was the console's): only Django's model state moves,
# the table stays console_conversationevent with its rows. console.0004 drops the old state.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0004_encrypt_at_rest"),
        ("console", "0003_encrypt_at_rest"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ConversationEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(choices=[("requested_human", "Customer asked for a human"), ("taken_over", "Taken over"), ("handed_back", "Handed back to the bot"), ("assigned", "Assigned"), ("closed", "Closed")], max_length=20, verbose_name="event")),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="at")),
                        ("actor", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="by")),
                        ("assignee", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="assignee")),
                        ("conversation", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="events", to="conversations.conversation", verbose_name="conversation")),
                    ],
                    options={
                        "verbose_name": "conversation event",
                        "verbose_name_plural": "conversation events",
                        "db_table": "console_conversationevent",
                        "indexes": [models.Index(fields=["conversation", "created_at"], name="console_event_conversation")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
