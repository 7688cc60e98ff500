"""Exporting members: CSV with BOM and xlsx, filters, phones masked by role, audit, roles."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.urls import reverse
from tests.factories import make_member, make_store

from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.members import services

pytestmark = pytest.mark.django_db
EXPORTERS = {r.value for r in roles_with(Perm.MEMBERS_EXPORT)}


@pytest.fixture
def members(store):
    zhang = make_member("张伟", phone="13812345678", store=store)
    services.do_tag_member(member=zhang, tag_name="VIP")
    make_member('=HYPERLINK("http://evil")', phone="13812340000", store=make_store(code="BJ001", city="北京"))
    return zhang


def download(client, user, **params) -> tuple[int, bytes]:
    client.force_login(user)
    response = client.get(reverse("members:export"), params)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_has_a_bom_and_masked_phones_for_an_analyst(client, staff, members):
    status, body = download(client, staff("analyst"), format="csv")
    assert status == 200
    assert body.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(body)
    assert len(rows) == 3
    zhang = next(r for r in rows if r[2] == "张伟")
    assert "138****5678" in zhang
    assert "13812345678" not in body.decode("utf-8-sig")
    assert zhang[-1] == "VIP"


def test_csv_has_full_phones_for_an_admin(client, staff, members):
    _status, body = download(client, staff("admin"), format="csv")
    zhang = next(r for r in csv_rows(body) if r[2] == "张伟")
    assert "13812345678" in zhang


def test_export_follows_the_member_list_filters(client, staff, members):
    _status, body = download(client, staff("marketer"), format="csv", store="SH001")
    rows = csv_rows(body)
    assert [r[2] for r in rows[1:]] == ["张伟"]
    _status, body = download(client, staff("marketer"), format="csv", tag="VIP", joined_from="2000-01-01")
    assert [r[2] for r in csv_rows(body)[1:]] == ["张伟"]


def test_a_formula_in_a_name_stays_text(client, staff, members):
    _status, body = download(client, staff("admin"), format="csv")
    assert any(r[2].startswith("'=HYPERLINK") for r in csv_rows(body))


def test_xlsx_export_reads_back_with_masked_phones(client, staff, members):
    status, body = download(client, staff("analyst"), format="xlsx")
    assert status == 200
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 3
    zhang = next(r for r in values if r[2] == "张伟")
    assert zhang[0] == members.member_no and "138****5678" in zhang


def test_every_export_leaves_an_audit_row(client, staff, members):
    user = staff("analyst")
    download(client, user, format="csv", status="active")
    entry = AuditEntry.objects.get(action="members.export")
    assert entry.actor == user
    assert entry.after == {"format": "csv", "filters": {"status": "active"}, "phones": "masked"}


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_export_by_role(client, staff, members, role):
    status, body = download(client, staff(role), format="csv")
    if role in EXPORTERS:
        assert status == 200 and body.startswith(b"\xef\xbb\xbf")
        assert AuditEntry.objects.filter(action="members.export").count() == 1
    else:
        assert status == 403
        assert not AuditEntry.objects.filter(action="members.export").exists()


def test_export_streams_more_than_one_chunk(client, staff, store, monkeypatch):
    from patron.members import exports

    monkeypatch.setattr(exports, "CHUNK", 2)
    for i in range(5):
        make_member(f"会员{i}", phone=f"1381234000{i}")
    _status, body = download(client, staff("admin"), format="csv")
    assert len(csv_rows(body)) == 6
