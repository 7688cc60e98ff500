import json

import pytest

pytestmark = pytest.mark.django_db


def test_create_member_then_record_sale_and_retry_returns_first(client, pos_key, store):
    till = pos_key("members:write", "members:read", "transactions:write", "pos")
    h = {"HTTP_AUTHORIZATION": f"Bearer {till.plain}"}
    body = {"name": "王芳", "phone": "13812345678", "store_code": "SH001"}
    r = client.post(
        "/api/v1/members", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="m1", **h
    )
    assert r.status_code == 201, r.content
    member_no = r.json()["member_no"]
    assert r.json()["phone"] == "138****5678"
    sale = {
        "external_id": "R-1",
        "store_code": "SH001",
        "member_no": member_no,
        "occurred_at": "2026-11-01T10:00:00+08:00",
        "amount": "88.50",
    }
    first = client.post(
        "/api/v1/transactions", json.dumps(sale), content_type="application/json", HTTP_IDEMPOTENCY_KEY="t1", **h
    )
    again = client.post(
        "/api/v1/transactions", json.dumps(sale), content_type="application/json", HTTP_IDEMPOTENCY_KEY="t1", **h
    )
    assert first.status_code == 201, first.content
    assert again.status_code == 201
    assert again.json() == first.json()
    changed = client.post(
        "/api/v1/transactions",
        json.dumps({**sale, "amount": "90.00"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="t1",
        **h,
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_mismatch"
    found = till.post(client, "/api/v1/pos/identify", {"phone": "138 1234 5678"})
    assert found.status_code == 200
    assert found.json()["member_no"] == member_no
