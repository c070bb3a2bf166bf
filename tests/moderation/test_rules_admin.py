"""Blacklist administration: pathological regexes are refused, CSV import goes through the same checks."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.moderation import services
from apps.moderation.models import Term

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\w+\s?)*$", r"(a|ab)*c", r"([a-z]+)\1", r"x{1,100000}"])
def test_a_pathological_regex_is_refused_at_save(pattern: str) -> None:
    with pytest.raises(ValidationError) as refused:
        services.term_save(term=Term(text=pattern, kind=Term.Kind.REGEX, category="other"))

    assert "text" in refused.value.message_dict
    assert not Term.objects.exists()


def test_a_bounded_regex_is_accepted() -> None:
    term = services.term_save(term=Term(text=r"1[3-9]\d{9}", kind=Term.Kind.REGEX, category="pii", action="mask"))

    assert term.pk is not None


def test_the_admin_form_shows_why_a_regex_was_refused(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:moderation_term_add"),
        {"text": "(a+)+$", "kind": "regex", "category": "other", "severity": 3, "action": "block", "enabled": "on"},
    )

    assert response.status_code == 200  # the form again, not a redirect
    assert "nested repetition" in response.content.decode()
    assert not Term.objects.exists()


def test_the_admin_saves_a_keyword_term(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:moderation_term_add"),
        {"text": "代开发票", "kind": "keyword", "category": "fraud", "severity": 4, "action": "block", "enabled": "on"},
    )

    assert response.status_code == 302
    assert Term.objects.get().text == "代开发票"


def test_a_csv_import_creates_terms_and_rejects_a_catastrophic_regex(admin_client: Client) -> None:
    good = "text,kind,category,severity,action,match_pinyin,enabled,note\r\n代开发票,keyword,fraud,4,block,0,1,\r\n"
    bad = good + "(x+x+)+y,regex,other,3,block,0,1,\r\n"
    url = reverse("admin:moderation_term_import")

    refused = admin_client.post(
        url, {"format": "0", "import_file": SimpleUploadedFile("terms.csv", bad.encode(), "text/csv")}
    )
    accepted = admin_client.post(
        url, {"format": "0", "import_file": SimpleUploadedFile("terms.csv", good.encode(), "text/csv")}
    )

    assert "nested repetition" in refused.content.decode()
    assert accepted.status_code == 200
    assert "代开发票" in accepted.content.decode()  # the confirmation page lists the row to import
