"""Signed POS requests (ADR 0006): every call under /api/v1/pos/ carries an HMAC of its method,
path, body, time and a one-off nonce, made with the key's signing secret."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from patron.api import crypto
from patron.api.models import ApiKey, UsedNonce
from patron.api.services import do_issue_api_key, do_rotate_signing_secret
from patron.api.tasks import every_ten_minutes, prune_used_nonces
from patron.core import clock, scheduler
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.integrations import signing
from tests.api.conftest import assert_error
from tests.factories import make_member
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db

IDENTIFY = "/api/v1/pos/identify"
BODY = json.dumps({"phone": "13812345678"}).encode()
NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
NOW_TS = int(NOW.timestamp())


@pytest.fixture
def member(db):
    return make_member("张伟", phone="13812345678")


@pytest.fixture
def till(pos_key):
    return pos_key("pos")


def identify(client, till, body=BODY, path=IDENTIFY, **headers):
    return client.post(
        path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {till.plain}", **headers
    )


def key_of(till) -> ApiKey:
    return ApiKey.objects.get(prefix=till.plain.split("_")[1])


# --------------------------------------------------------------------------- accepted


def test_signed_identify_passes(client, till, member):
    r = till.post(client, IDENTIFY, {"phone": "13812345678"})
    assert r.status_code == 200, r.content
    assert r.json()["member_no"] == member.member_no
    assert UsedNonce.objects.filter(key=key_of(till)).count() == 1


def test_signed_request_with_x_api_key_header_passes(client, till, member):
    r = client.post(
        IDENTIFY,
        BODY,
        content_type="application/json",
        HTTP_X_API_KEY=till.plain,
        **signed_headers(till.signing_secret, "POST", IDENTIFY, BODY),
    )
    assert r.status_code == 200, r.content


def test_upper_case_hex_signature_is_the_same_signature(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    headers["HTTP_X_PATRON_SIGNATURE"] = headers["HTTP_X_PATRON_SIGNATURE"].upper()
    assert identify(client, till, **headers).status_code == 200


@pytest.mark.parametrize("skew", [-300, 300])
def test_timestamp_at_the_edge_of_the_window_passes(client, till, member, skew):
    with clock.frozen(NOW):
        headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY, timestamp=NOW_TS + skew)
        assert identify(client, till, **headers).status_code == 200


def test_query_string_is_part_of_the_signed_path(client, till, member):
    path = f"{IDENTIFY}?lang=en"
    assert (
        identify(client, till, path=path, **signed_headers(till.signing_secret, "POST", path, BODY)).status_code == 200
    )
    r = identify(client, till, path=path, **signed_headers(till.signing_secret, "POST", IDENTIFY, BODY))
    assert_error(r, 401, "signature_invalid")


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    "dropped",
    [
        ["HTTP_X_PATRON_TIMESTAMP", "HTTP_X_PATRON_NONCE", "HTTP_X_PATRON_SIGNATURE"],
        ["HTTP_X_PATRON_TIMESTAMP"],
        ["HTTP_X_PATRON_NONCE"],
        ["HTTP_X_PATRON_SIGNATURE"],
    ],
)
def test_missing_signature_headers_are_401_signature_missing(client, till, member, dropped):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    for name in dropped:
        del headers[name]
    body = assert_error(identify(client, till, **headers), 401, "signature_missing")
    assert set(body["fields"]) == {name.removeprefix("HTTP_").replace("_", "-").title() for name in dropped}
    assert not UsedNonce.objects.exists()


def test_signature_made_with_another_secret_is_401_signature_invalid(client, till, pos_key, member):
    other = pos_key("pos")
    r = identify(client, till, **signed_headers(other.signing_secret, "POST", IDENTIFY, BODY))
    assert_error(r, 401, "signature_invalid")
    assert not UsedNonce.objects.exists()


def test_garbage_signature_is_401_signature_invalid(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    headers["HTTP_X_PATRON_SIGNATURE"] = "不是签名"
    assert_error(identify(client, till, **headers), 401, "signature_invalid")


def test_tampered_body_is_401_signature_invalid(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    tampered = json.dumps({"phone": "13912345678"}).encode()
    assert_error(identify(client, till, body=tampered, **headers), 401, "signature_invalid")


def test_tampered_path_is_401_signature_invalid(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", "/api/v1/pos/earn", BODY)
    assert_error(identify(client, till, **headers), 401, "signature_invalid")


def test_tampered_method_is_401_signature_invalid(client, till, member):
    headers = signed_headers(till.signing_secret, "PUT", IDENTIFY, BODY)
    assert_error(identify(client, till, **headers), 401, "signature_invalid")


def test_tampered_timestamp_is_401_signature_invalid(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    headers["HTTP_X_PATRON_TIMESTAMP"] = str(int(headers["HTTP_X_PATRON_TIMESTAMP"]) + 1)
    assert_error(identify(client, till, **headers), 401, "signature_invalid")


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("HTTP_X_PATRON_TIMESTAMP", "yesterday"),
        ("HTTP_X_PATRON_TIMESTAMP", "-1"),
        ("HTTP_X_PATRON_TIMESTAMP", "1.5"),
        ("HTTP_X_PATRON_TIMESTAMP", "٣٣٣٣٣٣"),
        ("HTTP_X_PATRON_TIMESTAMP", "9" * 40),
        ("HTTP_X_PATRON_NONCE", "short"),
        ("HTTP_X_PATRON_NONCE", "n" * 65),
        ("HTTP_X_PATRON_NONCE", "has space in it"),
        ("HTTP_X_PATRON_NONCE", "nonce.with.dots"),
    ],
)
def test_malformed_timestamp_or_nonce_is_401_signature_invalid(client, till, member, header, value):
    kw = {"timestamp": value} if header == "HTTP_X_PATRON_TIMESTAMP" else {"nonce": value}
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY, **kw)  # type: ignore[arg-type]
    body = assert_error(identify(client, till, **headers), 401, "signature_invalid")
    assert set(body["fields"]) == {header.removeprefix("HTTP_").replace("_", "-").title()}
    assert not UsedNonce.objects.exists()


@pytest.mark.parametrize("skew", [-301, 301, -86_400, 86_400])
def test_stale_or_future_timestamp_is_401_request_expired(client, till, member, skew):
    with clock.frozen(NOW):
        headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY, timestamp=NOW_TS + skew)
        assert_error(identify(client, till, **headers), 401, "request_expired")
    assert not UsedNonce.objects.exists()


def test_replayed_nonce_is_401_nonce_replayed(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    assert identify(client, till, **headers).status_code == 200
    assert_error(identify(client, till, **headers), 401, "nonce_replayed")


def test_nonce_is_spent_even_when_the_request_is_then_refused(client, till):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    assert_error(identify(client, till, **headers), 404, "member_not_found")
    assert_error(identify(client, till, **headers), 401, "nonce_replayed")


def test_same_nonce_under_another_key_is_not_a_replay(client, till, pos_key, member):
    other = pos_key("pos")
    nonce = "till-7-000001"
    assert (
        identify(client, till, **signed_headers(till.signing_secret, "POST", IDENTIFY, BODY, nonce=nonce)).status_code
        == 200
    )
    r = identify(client, other, **signed_headers(other.signing_secret, "POST", IDENTIFY, BODY, nonce=nonce))
    assert r.status_code == 200


def test_a_bad_api_key_is_still_invalid_api_key_on_pos(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    r = client.post(IDENTIFY, BODY, content_type="application/json", HTTP_AUTHORIZATION="Bearer pk_nope_x", **headers)
    assert_error(r, 401, "invalid_api_key")


def test_key_without_a_signing_secret_is_refused_on_pos(client, till, member):
    ApiKey.objects.filter(pk=key_of(till).pk).update(signing_secret_sealed="")
    body = assert_error(
        identify(client, till, **signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)), 401, "signature_invalid"
    )
    assert "signing secret" in body["message"]


def test_refusal_messages_are_translated(client, till, member):
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    del headers["HTTP_X_PATRON_SIGNATURE"]
    body = assert_error(identify(client, till, HTTP_ACCEPT_LANGUAGE="zh-hans", **headers), 401, "signature_missing")
    assert "签名" in body["message"]


# --------------------------------------------------------------------------- elsewhere


def test_routes_outside_pos_need_no_signature(client, pos_key, member):
    reader = pos_key("members:read")
    assert client.get("/api/v1/members", HTTP_AUTHORIZATION=f"Bearer {reader.plain}").status_code == 200
    wrong = {"HTTP_X_PATRON_TIMESTAMP": "1", "HTTP_X_PATRON_NONCE": "x", "HTTP_X_PATRON_SIGNATURE": "no"}
    assert client.get("/api/v1/members", HTTP_AUTHORIZATION=f"Bearer {reader.plain}", **wrong).status_code == 200
    assert not UsedNonce.objects.exists()


def test_openapi_description_documents_the_scheme(client):
    description = client.get("/api/v1/openapi.json").json()["info"]["description"]
    for word in (
        "X-Patron-Timestamp",
        "X-Patron-Nonce",
        "X-Patron-Signature",
        "signature_missing",
        "signature_invalid",
        "request_expired",
        "nonce_replayed",
        "{timestamp}.{nonce}.{METHOD}.{path}.",
    ):
        assert word in description


# --------------------------------------------------------------------------- the secret


def test_issue_returns_a_signing_secret_that_is_stored_sealed_not_plain():
    key, plain, secret = do_issue_api_key(name="till", scopes=["pos"])
    assert secret and secret != plain
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apikey WHERE id = %s", [key.pk])
        row = cursor.fetchone()
    assert row is not None
    assert not any(secret in str(value) for value in row)
    assert not any(secret.removeprefix("pss_") in str(value) for value in row)
    assert crypto.unseal(ApiKey.objects.get(pk=key.pk).signing_secret_sealed) == secret


def test_rotation_invalidates_the_old_secret(client, till, member):
    old = till.signing_secret
    assert till.post(client, IDENTIFY, {"phone": "13812345678"}).status_code == 200  # warms the key cache
    new = do_rotate_signing_secret(key=key_of(till))
    assert new != old
    assert_error(identify(client, till, **signed_headers(old, "POST", IDENTIFY, BODY)), 401, "signature_invalid")
    assert identify(client, till, **signed_headers(new, "POST", IDENTIFY, BODY)).status_code == 200
    assert AuditEntry.objects.filter(action="apikey.rotate_signing_secret", object_id=str(key_of(till).pk)).count() == 1


def test_the_secret_is_read_from_the_key_cache_not_the_database_per_request(client, till, member):
    assert till.post(client, IDENTIFY, {"phone": "13812345678"}).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert till.post(client, IDENTIFY, {"phone": "13812345678"}).status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "api_apikey" in q["sql"]]


def test_sealed_secret_survives_a_secret_key_rotation_with_fallbacks(settings):
    sealed = crypto.seal("pss_secret")
    old_key = settings.SECRET_KEY
    with override_settings(SECRET_KEY="a-brand-new-secret-key", SECRET_KEY_FALLBACKS=[old_key]):
        assert crypto.unseal(sealed) == "pss_secret"
    with override_settings(SECRET_KEY="a-brand-new-secret-key", SECRET_KEY_FALLBACKS=[]):
        assert crypto.unseal(sealed) is None


@pytest.mark.parametrize("damage", ["", "v1$", "v2$abc", "v1$not base64!", "v1$" + "A" * 40])
def test_damaged_sealed_values_unseal_to_none(damage):
    assert crypto.unseal(damage) is None


def test_flipping_a_ciphertext_bit_is_detected():
    sealed = crypto.seal("pss_secret")
    raw = bytearray(base64.urlsafe_b64decode(sealed.removeprefix("v1$")))
    raw[20] ^= 1
    assert crypto.unseal("v1$" + base64.urlsafe_b64encode(bytes(raw)).decode()) is None


def test_sealing_twice_gives_different_ciphertexts():
    assert crypto.seal("pss_secret") != crypto.seal("pss_secret")


def test_signing_helper_matches_the_documented_formula():
    headers = signed_headers("s3cret", "post", IDENTIFY, b"{}", timestamp=1700000000, nonce="abcdefgh")
    assert signing.verify_request(
        "s3cret",
        timestamp="1700000000",
        nonce="abcdefgh",
        method="POST",
        path=IDENTIFY,
        body=b"{}",
        signature=headers["HTTP_X_PATRON_SIGNATURE"],
    )
    assert signing.request_message(1700000000, "abcdefgh", "post", IDENTIFY, b"{}") == (
        b"1700000000.abcdefgh.POST./api/v1/pos/identify.{}"
    )


def test_webhook_signing_still_works():
    assert signing.verify("s", 1, b"x", signing.sign("s", 1, b"x"))
    assert not signing.verify("s", 2, b"x", signing.sign("s", 1, b"x"))


# --------------------------------------------------------------------------- the keys page


def as_staff(client, user):
    client.force_login(user)
    return client


def test_issuing_a_key_on_the_page_shows_its_signing_secret_once(client, staff):
    response = as_staff(client, staff("admin")).post(reverse("apikeys:list"), {"name": "till 1", "scopes": ["pos"]})
    assert response.status_code == 200
    secret = response.context["signing_secret"]
    assert secret.startswith("pss_")
    assert secret in response.content.decode()
    assert crypto.unseal(ApiKey.objects.get(name="till 1").signing_secret_sealed) == secret
    again = client.get(reverse("apikeys:list"))
    assert secret not in again.content.decode()


def test_rotating_on_the_page_shows_the_new_secret_and_audits(client, staff, till):
    key = key_of(till)
    response = as_staff(client, staff("admin")).post(reverse("apikeys:rotate", args=[key.pk]))
    assert response.status_code == 200
    secret = response.context["signing_secret"]
    assert secret != till.signing_secret
    assert secret in response.content.decode()
    assert crypto.unseal(ApiKey.objects.get(pk=key.pk).signing_secret_sealed) == secret
    assert AuditEntry.objects.filter(action="apikey.rotate_signing_secret").count() == 1


@pytest.mark.parametrize("role", [r.value for r in Role if r not in roles_with(Perm.APIKEYS_MANAGE)])
def test_only_admins_rotate_and_nothing_changes_on_denial(client, staff, till, role):
    key = key_of(till)
    response = as_staff(client, staff(role)).post(reverse("apikeys:rotate", args=[key.pk]))
    assert response.status_code == 403
    assert ApiKey.objects.get(pk=key.pk).signing_secret_sealed == key.signing_secret_sealed
    assert not AuditEntry.objects.filter(action="apikey.rotate_signing_secret").exists()


def test_a_revoked_key_cannot_be_rotated(client, staff, till):
    key = key_of(till)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=clock.now())
    response = as_staff(client, staff("admin")).post(reverse("apikeys:rotate", args=[key.pk]))
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=key.pk).signing_secret_sealed == key.signing_secret_sealed


# --------------------------------------------------------------------------- pruning


def test_pruning_deletes_nonces_older_than_ten_minutes(till):
    key = key_of(till)
    UsedNonce.objects.create(key=key, nonce="old-nonce-1", seen_at=NOW - dt.timedelta(minutes=10, seconds=1))
    UsedNonce.objects.create(key=key, nonce="recent-nonce", seen_at=NOW - dt.timedelta(minutes=9, seconds=59))
    with clock.frozen(NOW):
        assert prune_used_nonces.call() == 1
    assert list(UsedNonce.objects.values_list("nonce", flat=True)) == ["recent-nonce"]


def test_pruning_is_scheduled_every_ten_minutes():
    job = next(j for j in scheduler.jobs() if j.name == "api.prune_used_nonces")
    assert job.task is prune_used_nonces
    assert every_ten_minutes(NOW) == every_ten_minutes(NOW + dt.timedelta(minutes=9, seconds=59))
    assert every_ten_minutes(NOW) != every_ten_minutes(NOW + dt.timedelta(minutes=10))


# --------------------------------------------------------------------------- races (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_signed_request_sent_by_eight_threads_at_once_passes_once(pos_key):
    make_member("张伟", phone="13812345678")
    till = pos_key("pos")
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def send() -> None:
        try:
            barrier.wait(timeout=30)
            statuses.append(identify(Client(), till, **headers).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(statuses) == [200] + [401] * 7


@pytest.mark.django_db(transaction=True)
def test_replay_is_refused_outside_a_test_transaction_too(pos_key):
    """The nonce is claimed in autocommit mode when no transaction is open (the server's case)."""
    make_member("张伟", phone="13812345678")
    till = pos_key("pos")
    headers = signed_headers(till.signing_secret, "POST", IDENTIFY, BODY)
    assert identify(Client(), till, **headers).status_code == 200
    assert_error(identify(Client(), till, **headers), 401, "nonce_replayed")
    assert UsedNonce.objects.count() == 1
