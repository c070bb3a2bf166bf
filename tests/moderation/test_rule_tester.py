"""The rule tester explains a text without recording anything, and only admins may use it."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from apps.moderation.models import AllowlistEntry, Flag, Term
from tests.security.conftest import roles_ensure

pytestmark = pytest.mark.django_db
URL = "admin:moderation_term_tester"


def staff_in(role: str) -> Client:
    roles_ensure()
    user = User.objects.create_user(f"{role}-1", password="pw-tester-123", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rules(make_term: Callable[..., Term], make_allow: Callable[..., AllowlistEntry]) -> None:
    make_term("傻逼", action="mask", match_initials=True)
    make_term("色情", category="porn")
    make_term("ass", action="mask")
    make_allow("特色情况", category="porn")


@pytest.mark.usefixtures("rules")
def test_it_shows_the_normalised_text_every_hit_with_its_route_and_the_verdicts() -> None:
    response = staff_in("admin").post(reverse(URL), {"text": "你个SB，a s s，特色情况"})
    page = response.content.decode()

    assert response.status_code == 200
    assert "你个sb,a s s,特色情况" in page  # the normalised text
    assert 'data-via="initials"' in page
    assert 'data-via="spaced"' in page
    assert "特色情况" in page.split('id="cancelled"')[1]  # the entry that cancelled the 色情 hit
    assert 'data-action="mask"' in page
    assert "<mark>SB</mark>" in page
    assert not Flag.objects.exists()


@pytest.mark.usefixtures("rules")
def test_a_clean_text_says_so() -> None:
    page = staff_in("admin").post(reverse(URL), {"text": "请问什么时候发货？"}).content.decode()

    assert 'id="no-hits"' in page
    assert 'data-action="allow"' in page


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_agents_and_managers_may_not_use_it(role: str) -> None:
    assert staff_in(role).post(reverse(URL), {"text": "傻逼"}).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    assert client.get(reverse(URL)).status_code == 302


def test_the_blacklist_links_to_it(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:moderation_term_changelist")).content.decode()

    assert reverse(URL) in page
