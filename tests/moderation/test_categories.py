"""Categories: built-ins keep working, admins add and rename, keys never change, used ones stay."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from apps.moderation import selectors, services
from apps.moderation.models import ContentCategory, SemanticRule, Term

pytestmark = pytest.mark.django_db


def category(key: str, name: str = "") -> ContentCategory:
    return services.category_save(category=ContentCategory(key=key, name=name))


def test_the_built_in_categories_exist_as_rows_after_the_migration() -> None:
    assert set(ContentCategory.objects.values_list("key", flat=True)) >= {"politics", "porn", "fraud", "other"}


def test_a_new_category_can_hold_terms_and_rules() -> None:
    category("gambling", "赌博")

    term = services.term_save(term=Term(text="百家乐", category="gambling"))
    rule = services.semantic_rule_save(rule=SemanticRule(category="gambling", examples="下注", enabled=False))

    assert (term.category, rule.category) == ("gambling", "gambling")
    assert selectors.category_labels()["gambling"] == "赌博"


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        services.term_save(term=Term(text="百家乐", category="gambling"))

    assert "category" in refused.value.message_dict


def test_built_in_keys_stay_valid_when_their_rows_are_gone() -> None:
    # A transactional test elsewhere flushes the tables: terms must still save with built-in keys.
    ContentCategory.objects.all().delete()

    assert services.term_save(term=Term(text="傻逼", category="abuse")).pk is not None


def test_renaming_changes_the_name_and_never_the_key(admin_client: Client) -> None:
    row = ContentCategory.objects.get(key="other")

    response = admin_client.post(
        reverse("admin:moderation_contentcategory_change", args=[row.pk]), {"key": "misc", "name": "其他违规"}
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.key, row.label) == ("other", "其他违规")
    assert ("other", "其他违规") in selectors.category_choices()


def test_a_new_category_needs_a_name(admin_client: Client) -> None:
    response = admin_client.post(reverse("admin:moderation_contentcategory_add"), {"key": "gambling", "name": ""})

    assert response.status_code == 200
    assert not ContentCategory.objects.filter(key="gambling").exists()


def test_a_category_in_use_cannot_be_deleted_and_a_built_in_one_never(admin_client: Client) -> None:
    gambling = category("gambling", "赌博")
    spare = category("spare", "备用")
    services.term_save(term=Term(text="百家乐", category="gambling"))

    used = admin_client.post(reverse("admin:moderation_contentcategory_delete", args=[gambling.pk]), {"post": "yes"})
    unused = admin_client.post(reverse("admin:moderation_contentcategory_delete", args=[spare.pk]), {"post": "yes"})
    built_in = admin_client.get(
        reverse("admin:moderation_contentcategory_delete", args=[ContentCategory.objects.get(key="porn").pk])
    )

    assert "赌博" in used.content.decode()
    assert ContentCategory.objects.filter(key="gambling").exists()
    assert unused.status_code == 302
    assert not ContentCategory.objects.filter(key="spare").exists()
    assert built_in.status_code == 403
    with pytest.raises(ValidationError):
        services.categories_delete(categories=[gambling])


def test_the_term_form_offers_the_admins_categories(admin_client: Client) -> None:
    category("gambling", "赌博")

    page = admin_client.get(reverse("admin:moderation_term_add")).content.decode()
    saved = admin_client.post(
        reverse("admin:moderation_term_add"),
        {
            "text": "百家乐",
            "kind": "keyword",
            "category": "gambling",
            "severity": 4,
            "action": "block",
            "enabled": "on",
        },
    )

    assert 'value="gambling"' in page
    assert "赌博" in page
    assert saved.status_code == 302
    assert Term.objects.get(text="百家乐").category == "gambling"


def test_categories_and_terms_with_new_flags_import_from_csv(admin_client: Client) -> None:
    categories = "key,name\r\ngambling,赌博\r\n"
    terms = (
        "text,kind,category,severity,action,match_pinyin,match_initials,match_inserted,enabled,note\r\n"
        "傻逼,keyword,abuse,4,mask,1,1,0,1,\r\n"
    )

    first = admin_client.post(
        reverse("admin:moderation_contentcategory_import"),
        {"format": "0", "import_file": SimpleUploadedFile("c.csv", categories.encode(), "text/csv")},
    )
    second = admin_client.post(
        reverse("admin:moderation_term_import"),
        {"format": "0", "import_file": SimpleUploadedFile("t.csv", terms.encode(), "text/csv")},
    )

    assert "gambling" in first.content.decode()
    assert "傻逼" in second.content.decode()


def test_the_demo_rules_load_with_their_categories_and_routes() -> None:
    out = io.StringIO()
    call_command("moderation_demo", stdout=out)
    call_command("moderation_demo", stdout=out)  # again: nothing twice

    assert Term.objects.get(text="傻逼").match_initials is True
    assert Term.objects.filter(kind="regex", category="pii").count() == 2
    assert selectors.allowlist_records()
    assert "0 blacklist terms, 0 allowlist entries and 0 semantic rules added" in out.getvalue()
