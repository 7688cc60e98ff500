"""Audit rows name who acted and the request that did it."""

from __future__ import annotations

import json

import pytest

from patron.core.audit import record_audit
from patron.core.context import Actor, acting_as, current_actor
from patron.core.models import AuditEntry
from patron.members.models import Member

pytestmark = pytest.mark.django_db


def test_audit_row_through_the_api_carries_key_label_and_request_id(client, api_key):
    key = api_key("members:write")
    r = client.post(
        "/api/v1/members",
        json.dumps({"name": "李娜", "phone": "13912345678"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_IDEMPOTENCY_KEY="a1",
        HTTP_X_REQUEST_ID="req-audit-1",
        REMOTE_ADDR="10.1.2.3",
    )
    assert r.status_code == 201, r.content
    assert r["X-Request-ID"] == "req-audit-1"
    member = Member.objects.get(member_no=r.json()["member_no"])
    row = AuditEntry.objects.get(action="member.create", object_id=str(member.pk))
    assert row.actor is None
    assert row.actor_label == "api:test till"
    assert row.request_id == "req-audit-1"
    assert row.ip == "10.1.2.3"
    assert row.object_type == "members.member"
    assert row.after == {"member_no": member.member_no, "status": "active"}


def test_request_without_id_gets_a_generated_one_in_response_and_audit(client, api_key):
    key = api_key("members:write")
    r = client.post(
        "/api/v1/members",
        json.dumps({"name": "李娜", "phone": "13912345679"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_IDEMPOTENCY_KEY="a2",
    )
    assert r.status_code == 201
    rid = r["X-Request-ID"]
    assert len(rid) == 32
    assert AuditEntry.objects.get(action="member.create").request_id == rid


def test_audit_row_carries_the_signed_in_user(staff):
    user = staff("admin")
    with acting_as(Actor(user=user, label=user.username, request_id="r-9", ip="127.0.0.1")):
        row = record_audit("thing.done", object_type="thing", object_id=7, reason="because")
    row.refresh_from_db()
    assert row.actor == user
    assert row.actor_label == user.username
    assert (row.request_id, row.ip, row.object_id, row.reason) == ("r-9", "127.0.0.1", "7", "because")


def test_audit_outside_a_request_is_the_system():
    assert current_actor().label == "system"
    row = record_audit("job.ran")
    assert row.actor is None
    assert row.actor_label == "system"
    assert row.request_id == ""


def test_acting_as_accepts_a_lazy_actor_and_restores_the_previous():
    with acting_as(lambda: Actor(label="lazy")):
        assert current_actor().label == "lazy"
    assert current_actor().label == "system"
