"""The allowlist cancels the hits its phrases cover, per category or for all, and nothing else."""

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.moderation.allowlist import AllowRecord
from apps.moderation.matcher import Matcher
from apps.moderation.models import AllowlistEntry, Flag, Term
from apps.moderation.moderator import ContentModerator
from tests.moderation.conftest import records


def matcher_with(*allow: AllowRecord) -> Matcher:
    terms = records({"text": "色情", "category": "porn"}, {"text": "大麻", "category": "other"}, {"text": "傻逼"})
    return Matcher(terms, allowlist=allow)


def test_an_entry_cancels_the_hit_it_covers_and_says_so() -> None:
    matcher = matcher_with(AllowRecord(1, "特色情况", "porn"))

    explained = matcher.explain("介绍一下当地的特色情况")

    assert explained.hits == []
    ((cancelled),) = explained.cancelled
    assert (cancelled.hit.term, [e.phrase for e in cancelled.allowed_by]) == ("色情", ["特色情况"])


def test_it_leaves_the_same_term_elsewhere_in_the_message() -> None:
    matcher = matcher_with(AllowRecord(1, "特色情况", "porn"))

    hits = matcher.match("特色情况不错，但别发色情图片")

    assert [(h.term, h.matched) for h in hits] == [("色情", "色情")]
    assert hits[0].start == 10


def test_a_category_entry_spares_other_categories_and_a_global_one_does_not() -> None:
    text = "太大麻烦了，傻逼"
    only_porn = matcher_with(AllowRecord(1, "大麻烦", "porn"))
    right_category = matcher_with(AllowRecord(1, "大麻烦", "other"))
    every_category = matcher_with(AllowRecord(1, "大麻烦了，傻逼", ""))

    assert {h.term for h in only_porn.match(text)} == {"大麻", "傻逼"}
    assert {h.term for h in right_category.match(text)} == {"傻逼"}
    assert every_category.match(text) == []


def test_entries_match_through_normalisation_like_terms() -> None:
    matcher = matcher_with(AllowRecord(1, "特色情况", ""))

    assert matcher.match("特 色 情 況") == []  # spaced and traditional


def test_an_entry_saved_in_the_admin_reaches_the_moderator(
    admin_client: Client, make_term: Callable[..., Term]
) -> None:
    make_term("色情", category="porn")
    assert ContentModerator().check(text="特色情况", direction="in").action == "block"
    Flag.objects.all().delete()

    response = admin_client.post(
        reverse("admin:moderation_allowlistentry_add"), {"phrase": "特色情况", "category": "porn", "enabled": "on"}
    )

    assert response.status_code == 302
    verdict = ContentModerator().check(text="特色情况", direction="in")
    assert (verdict.action, verdict.evidence) == ("allow", {})
    assert not Flag.objects.exists()


def test_the_allowlist_round_trips_through_csv(admin_client: Client, make_allow: Callable[..., AllowlistEntry]) -> None:
    make_allow("特色情况", category="porn", note="食谱")
    exported = admin_client.post(
        reverse("admin:moderation_allowlistentry_export"),
        {
            "format": "0",
            **{f"allowlistentryresource_{f}": "on" for f in ("id", "phrase", "category", "enabled", "note")},
        },
    )
    body = exported.content.decode("utf-8-sig")
    assert "特色情况,porn" in body
    AllowlistEntry.objects.all().delete()

    imported = admin_client.post(
        reverse("admin:moderation_allowlistentry_import"),
        {"format": "0", "import_file": SimpleUploadedFile("allow.csv", body.encode(), "text/csv")},
    )

    assert imported.status_code == 200
    assert "特色情况" in imported.content.decode()  # the confirmation page lists the row


def test_an_empty_phrase_is_refused(make_allow: Callable[..., AllowlistEntry]) -> None:
    with pytest.raises(ValidationError):
        make_allow("   ")
