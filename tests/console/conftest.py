from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache

from apps.moderation.selectors import RULES_VERSION_KEY
from tests.e2e.conftest import browser  # noqa: F401  (Playwright + Debian Chromium, shared with tests/e2e)
from tests.wechat.conftest import fake_wechat, kf_account, oa_account  # noqa: F401  (the WeChat API on loopback)

PASSWORD = "pw-agent-12345"


@pytest.fixture(autouse=True)
def _forget_rules_version() -> Iterator[None]:
    # Rows roll back between tests but Redis does not: make every moderator snapshot stale.
    yield
    cache.delete(RULES_VERSION_KEY)


def agent_group() -> Group:
    # The data migration creates it; transactional tests flush it, so recreate it the same way.
    group, _ = Group.objects.get_or_create(name="agent")
    group.permissions.add(Permission.objects.get(content_type__app_label="console", codename="use_console"))
    return group


@pytest.fixture
def make_agent(db: None) -> Callable[[str], User]:
    def _make(username: str) -> User:
        user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
        user.groups.add(agent_group())
        return user

    return _make


@pytest.fixture
def agent(make_agent: Callable[[str], User]) -> User:
    return make_agent("alice")


@pytest.fixture
def outsider(db: None) -> User:
    """Staff, but not an agent: may use other parts of the admin, not the console."""
    return User.objects.create_user("mallory", password=PASSWORD, is_staff=True)
