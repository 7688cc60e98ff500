"""Sales, refunds and bulk uploads over the API, with idempotency keys and external ids."""

from __future__ import annotations

import pytest

from patron.core.models import IdempotencyRecord
from patron.members import services
from patron.members.models import Member, Transaction
from tests.api.conftest import assert_error
from tests.factories import make_member

pytestmark = pytest.mark.django_db

AT = "2026-01-10T10:00:00+08:00"


@pytest.fixture
def member(db):
    return make_member("张伟", phone="13812345678", card_no="C-1")


def sale(member, **kw):
    return {
        "external_id": "R-1",
        "store_code": "SH001",
        "member_no": member.member_no,
        "occurred_at": AT,
        "amount": "88.50",
        **kw,
    }


def test_record_sale_returns_201_with_the_transaction(api, store, member):
    body = sale(
        member,
        lines=[{"sku": "A1", "quantity": "2", "amount": "88.50", "category": "shoes"}],
        channel="store",
        currency="cny",
    )
    r = api.post("/transactions", body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert {
        k: out[k]
        for k in (
            "external_id",
            "kind",
            "store_code",
            "member_no",
            "amount",
            "currency",
            "channel",
            "original_external_id",
            "replayed",
        )
    } == {
        "external_id": "R-1",
        "kind": "sale",
        "store_code": "SH001",
        "member_no": member.member_no,
        "amount": "88.50",
        "currency": "CNY",
        "channel": "store",
        "original_external_id": None,
        "replayed": False,
    }
    txn = Transaction.objects.get(pk=out["id"])
    assert txn.lines.get().category == "shoes"
    assert txn.source == "api"


@pytest.mark.parametrize("who", [{"phone": "138 1234 5678"}, {"card_no": "C-1"}])
def test_sale_finds_the_member_by_phone_or_card(api, store, member, who):
    body = {**sale(member), **who}
    del body["member_no"]
    r = api.post("/transactions", body)
    assert r.status_code == 201, r.content
    assert r.json()["member_no"] == member.member_no


def test_retry_with_the_same_idempotency_key_returns_the_first_response_identically(api, store, member):
    first = api.post("/transactions", sale(member), idem="k1")
    again = api.post("/transactions", sale(member), idem="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert Transaction.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_422_mismatch(api, store, member):
    api.post("/transactions", sale(member), idem="k1")
    assert_error(api.post("/transactions", sale(member, amount="90.00"), idem="k1"), 422, "idempotency_mismatch")
    assert Transaction.objects.count() == 1


def test_missing_idempotency_key_is_422(api, store, member):
    assert_error(api.post("/transactions", sale(member), idem=None), 422, "idempotency_key_required")
    assert_error(api.post("/transactions", sale(member), idem="   "), 422, "idempotency_key_required")
    assert_error(api.post("/transactions", sale(member), idem="x" * 201), 422, "validation_error")
    assert Transaction.objects.count() == 0


def test_idempotency_keys_are_per_api_key(make_api, store, member):
    a = make_api("transactions:write")
    b = make_api("transactions:write")
    assert a.post("/transactions", sale(member), idem="same").status_code == 201
    r = b.post("/transactions", sale(member, external_id="R-2"), idem="same")
    assert r.status_code == 201


def test_same_external_id_with_a_new_key_returns_the_original_as_replayed(api, store, member):
    first = api.post("/transactions", sale(member), idem="k1").json()
    r = api.post("/transactions", sale(member), idem="k2")
    assert r.status_code == 200
    assert r.json() == {**first, "replayed": True}
    assert Transaction.objects.count() == 1


def test_same_external_id_with_different_details_is_409(api, store, member):
    api.post("/transactions", sale(member), idem="k1")
    assert_error(api.post("/transactions", sale(member, amount="1.00"), idem="k2"), 409, "duplicate_transaction")


def test_a_refusal_is_replayed_for_the_same_key(api, store, member):
    services.do_change_status(member=member, status="frozen", reason="check")
    first = assert_error(api.post("/transactions", sale(member), idem="k1"), 422, "member_frozen")
    services.do_change_status(member=member, status="active", reason="ok")
    again = api.post("/transactions", sale(member), idem="k1")
    assert again.status_code == 422
    assert again.json() == first
    assert IdempotencyRecord.objects.count() == 1


def test_frozen_member_cannot_buy(api, store, member):
    services.do_change_status(member=member, status="frozen", reason="check")
    assert_error(api.post("/transactions", sale(member)), 422, "member_frozen")


def test_sale_for_unknown_member_is_404(api, store):
    body = {"external_id": "R", "store_code": "SH001", "member_no": "0000000000", "occurred_at": AT, "amount": "1"}
    assert_error(api.post("/transactions", body), 404, "member_not_found")


# --------------------------------------------------------------------------- refunds


def refund(**kw):
    return {
        "external_id": "RF-1",
        "original_external_id": "R-1",
        "store_code": "SH001",
        "occurred_at": AT,
        "amount": "20.00",
        **kw,
    }


def test_partial_and_full_refunds(api, store, member):
    api.post("/transactions", sale(member, amount="100.00"))
    r = api.post("/refunds", refund())
    assert r.status_code == 201, r.content
    assert (r.json()["kind"], r.json()["original_external_id"], r.json()["amount"]) == ("refund", "R-1", "20.00")
    assert api.post("/refunds", refund(external_id="RF-2", amount="80.00")).status_code == 201
    assert_error(api.post("/refunds", refund(external_id="RF-3", amount="0.01")), 422, "refund_exceeds_sale")


def test_refund_more_than_the_sale_is_refused(api, store, member):
    api.post("/transactions", sale(member, amount="100.00"))
    body = assert_error(api.post("/refunds", refund(amount="100.01")), 422, "refund_exceeds_sale")
    assert "amount" in body["fields"]


def test_refund_retry_and_replay(api, store, member):
    api.post("/transactions", sale(member, amount="100.00"))
    first = api.post("/refunds", refund(), idem="rk")
    assert api.post("/refunds", refund(), idem="rk").content == first.content
    replay = api.post("/refunds", refund(), idem="rk2")
    assert replay.status_code == 200
    assert replay.json()["replayed"] is True
    assert_error(api.post("/refunds", refund(amount="5.00"), idem="rk3"), 409, "duplicate_transaction")


def test_refund_of_unknown_sale_is_404(api, store, member):
    assert_error(api.post("/refunds", refund(original_external_id="NOPE")), 404, "original_not_found")


@pytest.mark.parametrize("amount", ["0", "-5.00"])
def test_refund_amount_must_be_positive(api, store, member, amount):
    api.post("/transactions", sale(member, amount="100.00"))
    assert_error(api.post("/refunds", refund(amount=amount)), 422, "invalid_amount")


# --------------------------------------------------------------------------- bulk


def test_bulk_upload_with_good_and_bad_items(api, store, member):
    frozen = make_member("冻结", phone="13912345678")
    services.do_change_status(member=frozen, status="frozen", reason="check")
    api.post("/transactions", sale(member, external_id="DUP", amount="10.00"))
    items = [
        sale(member, external_id="B-1"),
        sale(member, external_id="B-2", amount="-1.00"),
        {**sale(member, external_id="B-3"), "member_no": "0000000000"},
        sale(frozen, external_id="B-4"),
        sale(member, external_id="DUP", amount="10.00"),
        sale(member, external_id="DUP", amount="11.00"),
        sale(member, external_id="B-5", currency="XYZ"),
        sale(member, external_id="B-6", occurred_at="2999-01-01T00:00:00+08:00"),
    ]
    r = api.post("/transactions/bulk", {"transactions": items})
    assert r.status_code == 200, r.content
    got = [(x["external_id"], x["status"], (x["error"] or {}).get("code")) for x in r.json()]
    assert got == [
        ("B-1", 201, None),
        ("B-2", 422, "invalid_amount"),
        ("B-3", 404, "member_not_found"),
        ("B-4", 422, "member_frozen"),
        ("DUP", 200, None),
        ("DUP", 409, "duplicate_transaction"),
        ("B-5", 422, "unknown_currency"),
        ("B-6", 422, "validation_error"),
    ]
    assert r.json()[0]["transaction"]["amount"] == "88.50"
    assert Transaction.objects.filter(source="bulk").count() == 1
    again = api.post("/transactions/bulk", {"transactions": items}, idem="b1")
    assert api.post("/transactions/bulk", {"transactions": items}, idem="b1").content == again.content


def test_bulk_refuses_more_than_1000_items(api, store, member):
    items = [sale(member, external_id=f"B{i}") for i in range(1001)]
    assert_error(api.post("/transactions/bulk", {"transactions": items}), 422, "validation_error")


def test_pending_first_purchase_member_is_activated_by_an_api_sale(api, store):
    member = make_member(entry_route="first_purchase")
    assert api.post("/transactions", sale(member, amount="100.00")).status_code == 201
    assert Member.objects.get(pk=member.pk).status == "active"
