"""API keys: who may call, with what scopes, for which store."""

from __future__ import annotations

import pytest

from patron.api.models import ApiKey
from patron.api.services import do_issue_api_key, do_revoke_api_key, verify_api_key
from patron.core.errors import ValidationFailed
from tests.api.conftest import assert_error
from tests.factories import make_member, make_store

pytestmark = pytest.mark.django_db


def test_no_key_is_401_invalid_api_key(make_api):
    api = make_api(key="")
    assert_error(api.get("/members"), 401, "invalid_api_key")
    assert_error(api.post("/transactions", {}), 401, "invalid_api_key")


@pytest.mark.parametrize("key", ["nonsense", "pk_deadbeef_wrong", "pk__", "Bearer"])
def test_unknown_or_malformed_key_is_401(make_api, key):
    assert_error(make_api(key=key).get("/members"), 401, "invalid_api_key")


def test_key_with_the_right_prefix_but_wrong_secret_is_401(make_api, api_key):
    plain = api_key("members:read")
    assert_error(make_api(key=plain[:-3] + "xyz").get("/members"), 401, "invalid_api_key")


def test_revoked_key_is_401_at_once(make_api, api_key):
    plain = api_key("members:read")
    api = make_api(key=plain)
    assert api.get("/members").status_code == 200
    do_revoke_api_key(key=ApiKey.objects.get(prefix=plain.split("_")[1]))
    assert_error(api.get("/members"), 401, "invalid_api_key")


def test_x_api_key_header_works_too(client, api_key):
    plain = api_key("members:read")
    assert client.get("/api/v1/members", HTTP_X_API_KEY=plain).status_code == 200


def test_wrong_scope_is_403_scope_missing(make_api):
    reader = make_api("members:read")
    assert_error(reader.post("/members", {"name": "王芳", "phone": "13812345678"}), 403, "scope_missing")
    assert_error(reader.post("/pos/identify", {"phone": "13812345678"}), 403, "scope_missing")
    writer = make_api("members:write")
    assert_error(writer.get("/members"), 403, "scope_missing")
    pos = make_api("pos")
    body = {"external_id": "T", "store_code": "SH001", "occurred_at": "2026-01-01T00:00:00Z", "amount": "1"}
    assert_error(pos.post("/transactions", body), 403, "scope_missing")
    assert_error(pos.post("/transactions/bulk", {"transactions": []}), 403, "scope_missing")


def test_store_bound_key_cannot_post_for_another_store(make_api, store):
    other = make_store(code="BJ001")
    member = make_member()
    till = make_api("transactions:write", "members:write", bound_store=store)
    sale = {
        "external_id": "T1",
        "store_code": other.code,
        "member_no": member.member_no,
        "occurred_at": "2026-01-01T10:00:00+08:00",
        "amount": "10.00",
    }
    assert_error(till.post("/transactions", sale), 403, "store_not_allowed")
    assert_error(
        till.post("/members", {"name": "王芳", "phone": "13812345678", "store_code": "BJ001"}), 403, "store_not_allowed"
    )
    # Without a store code the till's own store is used.
    r = till.post("/transactions", {**sale, "store_code": None})
    assert r.status_code == 201, r.content
    assert r.json()["store_code"] == "SH001"


def test_unbound_key_must_name_an_existing_store(api):
    member = make_member()
    sale = {
        "external_id": "T1",
        "member_no": member.member_no,
        "occurred_at": "2026-01-01T10:00:00+08:00",
        "amount": "10.00",
    }
    assert_error(api.post("/transactions", sale), 422, "validation_error")
    assert_error(api.post("/transactions", {**sale, "store_code": "NOPE"}), 404, "store_not_found")


def test_issue_key_needs_a_name_and_known_scopes():
    with pytest.raises(ValidationFailed):
        do_issue_api_key(name=" ", scopes=["pos"])
    with pytest.raises(ValidationFailed):
        do_issue_api_key(name="x", scopes=[])
    with pytest.raises(ValidationFailed):
        do_issue_api_key(name="x", scopes=["root"])


def test_only_a_hash_of_the_key_is_stored():
    key, plain, _signing_secret = do_issue_api_key(name="till", scopes=["pos"])
    assert plain.startswith(f"pk_{key.prefix}_")
    assert plain not in key.secret_hash
    assert verify_api_key(plain).id == key.pk
    assert verify_api_key(plain + "x") is None


def test_pii_scope_can_be_issued_and_shows_full_phone(make_api):
    member = make_member(phone="13812345678")
    masked = make_api("members:read").get(f"/members/{member.member_no}").json()
    full = make_api("members:read", "members:pii").get(f"/members/{member.member_no}").json()
    assert masked["phone"] == "138****5678"
    assert full["phone"] == "+8613812345678"
