# The keyed blind index (apps/core/blind_index.py) of message bodies and customer names, with GIN
# indexes, built for the rows already there under the current key (manage.py search_reindex and
# rotate_keys rebuild it later).

import django.contrib.postgres.indexes
from django.db import migrations, models

import apps.core.fields
from apps.core.blind_index import index_rebuild


def build(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        index_rebuild(
            cursor, table="conversations_message", source="body", target="search_index",
            context="conversations_message.body",
        )
        index_rebuild(cursor, table="conversations_customer", source="display_name", target="search_index", context=None)


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0011_satisfaction"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="search_index",
            field=apps.core.fields.BlindIndexField(
                base_field=models.IntegerField(), blank=True, default=list, editable=False, size=None,
                source="display_name", verbose_name="search index",
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="search_index",
            field=apps.core.fields.BlindIndexField(
                base_field=models.IntegerField(), blank=True, default=list, editable=False, size=None,
                source="body", verbose_name="search index",
            ),
        ),
        migrations.RunPython(build, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="customer",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_index"], name="customer_search_index"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_index"], name="message_search_index"),
        ),
    ]
