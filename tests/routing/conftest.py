"""Routing fixtures: agents on shift, queued conversations with their tickets (the clock to move is
tests/conftest.py's)."""

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from apps.conversations.models import Conversation
from apps.conversations.services import conversation_lock
from apps.routing import services
from apps.routing.models import AgentStatus, QueueTicket, Team
from tests.console.conftest import PASSWORD, agent_group, outsider  # noqa: F401  (staff, not an agent)
from tests.factories import AgentStatusFactory, ConversationFactory
from tests.support.presence import presence_forget


@pytest.fixture(autouse=True)
def _fresh_presence() -> Iterator[None]:
    yield
    presence_forget()


@pytest.fixture
def on_shift(db: None) -> Callable[..., User]:
    """An agent (console role), online with ``capacity`` seats, member of ``teams``."""
    made = iter(range(1, 10_000))

    def _make(
        name: str = "", *, capacity: int = 3, teams: tuple[Team, ...] = (), status: str = AgentStatus.Status.ONLINE
    ) -> User:
        user = User.objects.create_user(name or f"agent{next(made)}", password=PASSWORD, is_staff=True)
        user.groups.add(agent_group())
        AgentStatusFactory(user=user, capacity=capacity, status=status)
        for team in teams:
            team.members.add(user)
        return user

    return _make


@pytest.fixture
def queued(db: None) -> Callable[..., list[Conversation]]:
    """``n`` conversations waiting in the queue (for ``team``), as the spine leaves them, oldest first."""

    def _make(n: int, *, team: Team | None = None) -> list[Conversation]:
        made = []
        for _ in range(n):
            conversation: Conversation = ConversationFactory.create(mode=Conversation.Mode.QUEUED)
            with transaction.atomic():
                locked = conversation_lock(conversation.pk)
                ticket = services.ticket_open(conversation=locked, reason="test")
                if team is not None:
                    QueueTicket.objects.filter(pk=ticket.pk).update(team=team)
            made.append(conversation)
        return made

    return _make


def load(user: User) -> int:
    return Conversation.objects.filter(assignee=user, mode=Conversation.Mode.HUMAN).count()
