"""Personas for customer profiles: agents (the newest roles matrix), a staff outsider; two channels."""

import importlib
from collections.abc import Callable

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.test import Client

from apps.conversations.models import Conversation, Customer
from apps.customers.models import Label
from tests.factories import ConversationFactory, CustomerFactory, LabelFactory

_roles = importlib.import_module("apps.core.migrations.0011_roles_customers")
_helpers = importlib.import_module("apps.core.migrations.0002_roles")


def _role_member(username: str, role: str | None) -> User:
    user = User.objects.create_user(username, password="pw-customers-123", is_staff=True)
    if role is not None:
        # The migration made the groups; a transactional test elsewhere may have flushed them since.
        _helpers.roles_grant(django_apps, _roles.ROLES)
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def agent(db: None) -> User:
    return _role_member("alice", "agent")


@pytest.fixture
def teammate(db: None) -> User:
    return _role_member("bob", "agent")


@pytest.fixture
def manager(db: None) -> User:
    return _role_member("maria", "manager")


@pytest.fixture
def outsider(db: None) -> User:
    """Staff, but in no role: no console, hence no customer profiles."""
    return _role_member("mallory", None)


@pytest.fixture
def client_of() -> Callable[[User], Client]:
    def _client(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _client


@pytest.fixture
def oa_customer(db: None) -> Customer:
    return CustomerFactory.create(channel="official_account", external_id="o-openid-1", display_name="王小明")


@pytest.fixture
def kf_customer(db: None) -> Customer:
    return CustomerFactory.create(channel="wecom_kf", external_id="wm-kf-1", display_name="小明")


@pytest.fixture
def oa_conversation(oa_customer: Customer) -> Conversation:
    return ConversationFactory.create(customer=oa_customer, mode=Conversation.Mode.CLOSED)


@pytest.fixture
def kf_conversation(kf_customer: Customer, oa_conversation: Conversation) -> Conversation:
    # Made after the OA one: the newer conversation, first in the timeline.
    return ConversationFactory.create(customer=kf_customer, mode=Conversation.Mode.BOT)


@pytest.fixture
def vip(db: None) -> Label:
    return LabelFactory.create(name="VIP", colour="#e53935")
