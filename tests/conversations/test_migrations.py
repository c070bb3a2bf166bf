"""The move of conversation events to the spine and of WeCom userids to the WeCom app keeps every row.

Migrates a real database back to before the move, writes rows the old way, migrates forward and
reads them the new way.
"""

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from tests.support.migrations import migrate, migrated_back_to

BEFORE = [
    ("console", "0003_encrypt_at_rest"),
    ("conversations", "0004_encrypt_at_rest"),
    ("wechat", "0002_encrypt_at_rest"),
]
AFTER = [("console", "0004_spine_owns_events"), ("core", "0003_roles_wecom_servicer")]


@pytest.fixture
def back_to_before_the_move(transactional_db: None) -> Iterator[None]:
    with migrated_back_to(BEFORE):
        yield


@pytest.mark.usefixtures("back_to_before_the_move")
def test_wecom_userids_and_conversation_events_survive_the_move() -> None:
    old = migrate(BEFORE).loader.project_state(BEFORE).apps
    user_model = old.get_model("auth", "User")
    alice = user_model.objects.create(username="alice", is_staff=True)
    bob = user_model.objects.create(username="bob", is_staff=True)
    old.get_model("console", "AgentProfile").objects.create(user=alice, wecom_userid="zhangsan")
    old.get_model("console", "AgentProfile").objects.create(user=bob, wecom_userid="")
    customer = old.get_model("conversations", "Customer").objects.create(channel="wecom_kf", external_id="kf:u1")
    conversation = old.get_model("conversations", "Conversation").objects.create(
        customer=customer, channel="wecom_kf", mode="human", assignee=alice
    )
    old.get_model("console", "ConversationEvent").objects.create(
        conversation=conversation, kind="taken_over", actor=alice, assignee=alice
    )

    new = migrate(AFTER).loader.project_state(AFTER).apps

    servicers = new.get_model("wechat", "WecomServicer").objects.all()
    assert [(s.user_id, s.userid) for s in servicers] == [(alice.pk, "zhangsan")]
    (event,) = new.get_model("conversations", "ConversationEvent").objects.all()
    assert (event.conversation_id, event.kind, event.actor_id) == (conversation.pk, "taken_over", alice.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('console_agentprofile') IS NULL")
        assert cursor.fetchone() == (True,)
    admin = Group.objects.get(name="admin").permissions.values_list("codename", flat=True)
    assert {"add_wecomservicer", "change_wecomservicer", "delete_wecomservicer", "view_wecomservicer"} <= set(admin)
    assert not any("agentprofile" in codename for codename in admin)
