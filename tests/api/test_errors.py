"""Bad input is answered with JSON {code, message, fields} and a 4xx status, never a 500."""

from __future__ import annotations

import pytest

from patron.members.models import Member, Transaction
from tests.api.conftest import assert_error
from tests.factories import make_member

pytestmark = pytest.mark.django_db

AT = "2026-01-10T10:00:00+08:00"


@pytest.fixture
def member(db, store):
    return make_member("张伟", phone="13812345678")


def sale(member, **kw):
    return {
        "external_id": "R-1",
        "store_code": "SH001",
        "member_no": member.member_no,
        "occurred_at": AT,
        "amount": "10.00",
        **kw,
    }


@pytest.mark.parametrize("raw", ["{", "not json", '{"name": "x",}', "\x00", '{"name": "\\ud800"}'])
@pytest.mark.parametrize("path", ["/members", "/transactions", "/refunds", "/transactions/bulk", "/pos/identify"])
def test_malformed_json_is_400(api, raw, path):
    assert_error(api.post(path, raw, raw=True), 400, "bad_request")


@pytest.mark.parametrize("raw", ["[]", "1", '"x"', "null", "true"])
def test_json_that_is_not_an_object_is_422(api, raw):
    assert_error(api.post("/members", raw, raw=True), 422, "validation_error")


def test_empty_body_is_422(api):
    assert_error(api.post("/members", "", raw=True), 422, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        {"name": 123, "phone": "13812345678"},
        {"name": ["x"], "phone": "13812345678"},
        {"name": "x", "phone": 13812345678},
        {"name": "x", "phone": None},
        {"name": "x" * 101, "phone": "13812345678"},
        {"name": "x", "phone": "13812345678", "birthday": "yesterday"},
        {"name": "x", "phone": "13812345678", "birthday": "2999-01-01"},
        {"name": "x", "phone": "13812345678", "gender": "X"},
        {"name": "x", "phone": "13812345678", "consents": {"terms": "maybe"}},
        {"name": "x", "phone": "13812345678", "consents": {"nonsense": True}},
        {"name": "x", "phone": "13812345678", "consents": ["terms"]},
        {"name": "x", "phone": "13812345678", "attributes": "kids"},
        {"name": "x", "phone": "13812345678", "email": "not-an-email"},
        {"name": "x", "phone": "13812345678", "join_channel": "import"},
        {"name": "   ", "phone": "13812345678"},
        {"phone": "13812345678"},
    ],
)
def test_wrong_member_fields_are_422(api, body):
    assert_error(api.post("/members", body), 422, body_code(body))
    assert not Member.objects.exists()


def body_code(body):
    return "validation_error"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "-1.00"}, "invalid_amount"),
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": -5}, "invalid_amount"),
        ({"amount": "1e30"}, "validation_error"),
        ({"amount": 1e308}, "validation_error"),
        ({"amount": "99999999999999999999999999999999"}, "validation_error"),
        ({"amount": "NaN"}, "validation_error"),
        ({"amount": "Infinity"}, "validation_error"),
        ({"amount": "1.001"}, "validation_error"),
        ({"amount": "abc"}, "validation_error"),
        ({"amount": None}, "validation_error"),
        ({"amount": True}, "validation_error"),
        ({"amount": [1]}, "validation_error"),
        ({"currency": "XYZ"}, "unknown_currency"),
        ({"currency": "人民币"}, "unknown_currency"),
        ({"currency": "CNYY"}, "validation_error"),
        ({"currency": 156}, "validation_error"),
        ({"occurred_at": "2026-01-10T10:00:00"}, "validation_error"),
        ({"occurred_at": "2999-01-01T00:00:00+08:00"}, "validation_error"),
        ({"occurred_at": "0001-01-01T00:00:00+08:00"}, "validation_error"),
        ({"occurred_at": "9999-12-31T23:59:59-08:00"}, "validation_error"),
        ({"occurred_at": "yesterday"}, "validation_error"),
        ({"occurred_at": 1e20}, "validation_error"),
        ({"external_id": ""}, "validation_error"),
        ({"external_id": "x" * 65}, "validation_error"),
        ({"external_id": 5}, "validation_error"),
        ({"channel": "carrier pigeon"}, "validation_error"),
        ({"lines": [{"sku": "A", "amount": "-1"}]}, "validation_error"),
        ({"lines": [{"sku": "A", "amount": "1", "quantity": "0"}]}, "validation_error"),
        ({"lines": [{"sku": "A", "amount": "1", "quantity": "1e20"}]}, "validation_error"),
        ({"lines": "A"}, "validation_error"),
        ({"member_no": None}, "validation_error"),
        ({"member_no": None, "phone": "12"}, "invalid_phone"),
        ({"store_code": 7}, "validation_error"),
    ],
)
def test_wrong_sale_fields_are_4xx_json(api, member, change, code):
    r = api.post("/transactions", sale(member, **change))
    assert r.status_code in (400, 422), r.content
    assert_error(r, r.status_code, code)
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "\x00"},
        {"member_no": "12\x0034"},
        {"card_no": "x" * 10_000},
        {"qr_token": "a:b:c"},
        {"phone": 138},
    ],
)
def test_identify_with_junk_is_4xx(api, member, body):
    r = api.post("/pos/identify", body)
    assert r.status_code in (400, 404, 422), r.content
    assert set(r.json()) == {"code", "message", "fields"}


@pytest.mark.parametrize("text", ["\x00", "张\x00伟", "a" * 500, "%", "_", "'; drop table x; --"])
def test_search_with_junk_is_never_a_500(api, member, text):
    r = api.get("/members", data={"q": text})
    assert r.status_code in (200, 422), r.content


@pytest.mark.parametrize("member_no", ["x" * 300, "%00", "..", "%E4%B8%AD"])
def test_member_path_with_junk_is_404_or_422(api, member, member_no):
    r = api.get(f"/members/{member_no}")
    assert r.status_code in (404, 422), r.content
    assert set(r.json()) == {"code", "message", "fields"}


def test_nul_characters_in_text_are_refused_not_crashed(api, member):
    r = api.post("/members", {"name": "王\x00芳", "phone": "13912345678"})
    assert r.status_code in (400, 422), r.content
    r = api.post("/transactions", sale(member, external_id="R\x001"))
    assert r.status_code in (400, 422), r.content
    r = api.post(f"/members/{member.member_no}/tags", {"tag": "V\x00IP"})
    assert r.status_code in (400, 422), r.content


def test_huge_member_fields_are_422(api):
    r = api.post("/members", {"name": "x", "phone": "1" * 10_000})
    assert_error(r, 422, "validation_error")
    r = api.post("/members", {"name": "x", "phone": "13812345678", "attributes": {"k" * 1000: 1}})
    assert r.status_code == 422


def test_wrong_method_is_405_json(api):
    r = api.client.delete("/api/v1/members", HTTP_AUTHORIZATION=f"Bearer {api.key}")
    assert r.status_code == 405


def test_validation_error_names_the_field(api, member):
    body = assert_error(api.post("/transactions", sale(member, amount="abc")), 422, "validation_error")
    assert "amount" in body["fields"]
