"""Login throttling (django-axes): five failures per username and address lock that pair out."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

LOGIN = reverse("admin:login")
PASSWORD = "pw-right-12345"


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("carol", password=PASSWORD, is_staff=True)


def attempt(password: str, *, username: str = "carol", ip: str = "10.1.1.1") -> tuple[int, str]:
    client = Client(REMOTE_ADDR=ip)
    response = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
    return response.status_code, response.content.decode()


def test_five_failures_lock_the_username_on_that_address_with_a_clear_message(staff: User) -> None:
    statuses = [attempt("wrong")[0] for _ in range(4)]
    assert statuses == [200] * 4  # the login form again, "please enter a correct username..."

    status, html = attempt("wrong")
    assert status == 429
    assert 'class="errornote"' in html
    assert "15" in html  # minutes; the sentence itself is translated (zh-hans by default)
    assert 'name="username"' in html  # the admin login page, not a bare text
    assert 'value="carol"' in html

    status, html = attempt(PASSWORD)
    assert status == 429  # the right password does not help during the lockout


def test_the_lockout_message_reads_in_english(staff: User) -> None:
    for _ in range(5):
        client = Client(REMOTE_ADDR="10.1.1.3", HTTP_ACCEPT_LANGUAGE="en")
        response = client.post(LOGIN, {"username": "carol", "password": "wrong"})

    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "locked on this network for 15 minutes" in response.content.decode()


def test_the_lock_holds_only_for_that_username_and_address(staff: User) -> None:
    User.objects.create_user("dave", password=PASSWORD, is_staff=True)
    for _ in range(5):
        attempt("wrong")

    assert attempt(PASSWORD, ip="10.9.9.9")[0] == 302  # same user, other address
    assert attempt(PASSWORD, username="dave")[0] == 302  # other user, same address


def test_a_success_before_the_limit_resets_the_count(staff: User) -> None:
    for _ in range(4):
        attempt("wrong")
    assert attempt(PASSWORD)[0] == 302
    for _ in range(4):
        attempt("wrong")

    assert attempt(PASSWORD)[0] == 302
