"""SQL statements per message on the spine's paths, asserted so they cannot creep back (issue 22).

Steady state: the customer's second message (the customer, their conversation and their profile
request exist). Counted with Django's CaptureQueriesContext over the real stack (Postgres,
the test settings' answerer and the simulator channel), savepoints included; Redis commands
through redis-py (the channel layer's nudges go through its own async client, not counted)."""

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.conversations.models import Message
from tests.factories import receive
from tests.support.counting import round_trips


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split(" ", 1)[0] for q in queries.captured_queries]


@pytest.mark.django_db
def test_receiving_a_message_costs_a_fixed_number_of_statements(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    receive("你好", user="cust-q")
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=False):  # type: ignore[attr-defined]
        receive("我的快递到哪了？", user="cust-q")
    # One transaction (the atomic block that makes a redelivery safe): the open conversation with its
    # customer row (one query since issue 22; two before), the message insert (whose unique index
    # turns a redelivery away: no duplicate check before it since issue 22), the conversation's recency.
    assert len(queries) <= 5, statements(queries)


@pytest.mark.usefixtures("eager_tasks")
def test_a_whole_exchange_costs_a_fixed_number_of_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    receive("你好", user="cust-q")
    with round_trips(monkeypatch) as counted:
        asked = receive("我的快递到哪了？", user="cust-q").message
    queries, commands = counted.statements, counted.redis
    answer = Message.objects.get(reply_to=asked)
    assert answer.status == Message.Status.DELIVERED
    # Receive (5), then the process task (the claim, which reads the message with its conversation,
    # whether it has media and whether it is the conversation's first, in one UPDATE … RETURNING; the
    # context; then the reply's transaction: the conversation's lock, the message's compare-and-set
    # UPDATE, the reply insert, the audit row under the chain's lock, no savepoint = 10), then
    # delivery inline after that commit (the reply's lock, delivered = 4): three transactions, 19
    # statements with their BEGIN/COMMITs (29 before issue 22's cuts: the customer look-up apart from
    # the conversation's, the attachment and connector look-ups, the conversation id before the
    # locks, the audit's savepoint, the attempts count before delivery, the re-read of the reply,
    # the message's read apart from its claim and its locked read apart from its status UPDATE).
    assert len(queries) <= 19, queries
    assert queries.count("BEGIN") <= 3, queries
    # The customer's rate-limit bucket (one EVALSHA); the moderation rules' and the knowledge base's
    # version checks add one GET each only when their interval (DESK_MODERATION_RELOAD_SECONDS, 2 s)
    # has passed since the first message, which a slow box may see.
    assert len(commands) <= 3, commands
