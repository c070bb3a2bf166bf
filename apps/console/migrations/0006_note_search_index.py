# The keyed blind index (apps/core/blind_index.py) of internal notes, with a GIN index, built for
# the notes already there under the current key.

import django.contrib.postgres.indexes
from django.db import migrations, models

import apps.core.fields
from apps.core.blind_index import index_rebuild


def build(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        index_rebuild(cursor, table="console_note", source="body", target="search_index", context="console_note.body")


class Migration(migrations.Migration):

    dependencies = [
        ("console", "0005_inbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="note",
            name="search_index",
            field=apps.core.fields.BlindIndexField(
                base_field=models.IntegerField(), blank=True, default=list, editable=False, size=None,
                source="body", verbose_name="search index",
            ),
        ),
        migrations.RunPython(build, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="note",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_index"], name="console_note_search_index"),
        ),
    ]
