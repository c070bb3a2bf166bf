"""Entries come from the admin: CSV/XLSX import, and every edit reaches the index and the embed task."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from openpyxl import Workbook
from tablib import Dataset

from apps.knowledge import selectors
from apps.knowledge.admin import EntryResource
from apps.knowledge.models import Entry
from apps.knowledge.selectors import KNOWLEDGE_VERSION_KEY

pytestmark = pytest.mark.usefixtures("eager_tasks")


def test_a_csv_import_creates_embedded_entries_and_bumps_the_version() -> None:
    before = selectors.knowledge_version()
    dataset = Dataset().load(
        "question,variants,answer,tags,enabled,direct_answer\n"
        "可以开发票吗？,怎么开发票,确认收货后在订单里申请开票。,invoice,1,1\n"
        "支持货到付款吗？,,暂不支持货到付款。,payment,1,1\n",
        format="csv",
    )

    result = EntryResource().import_data(dataset, dry_run=False, raise_errors=True)

    assert not result.has_errors()
    assert Entry.objects.count() == 2
    assert selectors.entries_stale_ids() == []  # the embed task ran on commit
    assert cache.get(KNOWLEDGE_VERSION_KEY) != before
    assert selectors.knowledge_search(question="能开发票吗").direct is not None


def test_an_xlsx_upload_through_the_admin_imports_entries(client: Client) -> None:
    admin = User.objects.create_superuser("kb-admin", "kb@example.com", "pw-kb-admin-1")
    client.force_login(admin)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["question", "variants", "answer", "tags", "enabled", "direct_answer"])
    sheet.append(["你们用什么快递？", "发什么快递", "默认发中通快递。", "shipping", 1, 1])
    upload = io.BytesIO()
    book.save(upload)
    upload.seek(0)
    upload.name = "entries.xlsx"

    preview = client.post("/admin/knowledge/entry/import/", {"import_file": upload, "format": "1"})
    assert preview.status_code == 200
    confirm = preview.context["confirm_form"]
    response = client.post("/admin/knowledge/entry/process_import/", confirm.initial)

    assert response.status_code == 302
    entry = Entry.objects.get()
    assert entry.phrases() == ["你们用什么快递？", "发什么快递"]
    assert selectors.entries_stale_ids() == []
