"""The OpenAPI document and the docs page."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("/api/v1/tiers", "get"),
    ("/api/v1/members/{member_no}/tier", "get"),
    ("/api/v1/members", "post"),
    ("/api/v1/members", "get"),
    ("/api/v1/members/{member_no}", "get"),
    ("/api/v1/members/{member_no}", "patch"),
    ("/api/v1/members/{member_no}/consents", "post"),
    ("/api/v1/members/{member_no}/tags", "post"),
    ("/api/v1/pos/identify", "post"),
    ("/api/v1/transactions", "post"),
    ("/api/v1/refunds", "post"),
    ("/api/v1/transactions/bulk", "post"),
    ("/api/v1/pos/quote", "post"),
    ("/api/v1/pos/sales", "post"),
    ("/api/v1/pos/redemptions", "post"),
    ("/api/v1/pos/holds", "post"),
    ("/api/v1/pos/holds/{hold_id}/commit", "post"),
    ("/api/v1/pos/holds/{hold_id}/void", "post"),
    ("/api/v1/pos/refunds", "post"),
    ("/api/v1/pos/sales/{external_id}/reverse", "post"),
    ("/api/v1/pos/balance", "get"),
    ("/api/v1/activities", "post"),
    ("/api/v1/rewards", "get"),
    ("/api/v1/rewards/{code}", "get"),
    ("/api/v1/rewards/orders", "post"),
    ("/api/v1/rewards/orders/{number}", "get"),
    ("/api/v1/rewards/orders/{number}/confirm", "post"),
    ("/api/v1/rewards/orders/{number}/cancel", "post"),
    ("/api/v1/rewards/orders/{number}/fulfil", "post"),
    ("/api/v1/rewards/orders/{number}/use", "post"),
    ("/api/v1/members/{member_no}/orders", "get"),
    ("/api/v1/members/{member_no}/coupons", "get"),
    ("/api/v1/members/{member_no}/coupons", "post"),
    ("/api/v1/members/{member_no}/coupons/claim", "post"),
    ("/api/v1/members/{member_no}/check-in", "post"),
    ("/api/v1/members/{member_no}/check-ins", "get"),
    ("/api/v1/badges", "get"),
    ("/api/v1/members/{member_no}/badges", "get"),
    ("/api/v1/pos/coupons/validate", "post"),
    ("/api/v1/pos/coupons/redeem", "post"),
    ("/api/v1/pos/coupons/unredeem", "post"),
    ("/api/v1/members/{member_no}/metrics", "get"),
    ("/api/v1/segments", "get"),
    ("/api/v1/segments/evaluate", "post"),
    ("/api/v1/segments/{segment_id}", "get"),
    ("/api/v1/segments/{segment_id}/members", "get"),
    ("/api/v1/segments/{segment_id}/snapshots", "post"),
    ("/api/v1/snapshots/{snapshot_id}/members", "get"),
}


def test_openapi_document_lists_every_endpoint(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["title"] == "Patron API"
    listed = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert listed == ENDPOINTS


def test_openapi_declares_error_responses_and_key_security(client):
    doc = client.get("/api/v1/openapi.json").json()
    post = doc["paths"]["/api/v1/transactions"]["post"]
    assert {"200", "201", "403", "404", "409", "422"} <= set(post["responses"])
    assert post["security"]
    schemes = doc["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} >= {"http", "apiKey"}


def test_docs_page_loads_without_any_cdn(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger" in html.lower()
    external = re.findall(r"""(?:src|href)=["'](https?:)?//[^"']+""", html)
    assert external == []
    assert "cdn" not in html.lower()
    assert "unpkg" not in html.lower()
