# ConversationEvent's state moved to conversations.0005 (the table stays); AgentProfile's only field,
# the WeCom userid, moved to wechat.WecomServicer (wechat.0003 copied the rows), so it goes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("console", "0003_encrypt_at_rest"),
        ("conversations", "0005_conversationevent"),
        ("wechat", "0003_wecomservicer"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ConversationEvent")],
            database_operations=[],
        ),
        migrations.DeleteModel(name="AgentProfile"),
    ]
