"""Races that only a real database with row locks can show. Run with DATABASE_URL=postgres://..."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from tests.factories import make_member, make_sale
from tests.threads import race

from patron.core import clock
from patron.core.errors import DomainError
from patron.members import services
from patron.members.models import Member, Transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

AT = "2026-01-10T10:00:00+08:00"


def post(key: str, path: str, body: dict[str, Any], idem: str) -> tuple[int, Any]:
    r = Client().post(
        f"/api/v1{path}",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_IDEMPOTENCY_KEY=idem,
    )
    return r.status_code, r.json()


def test_twenty_sign_ups_with_the_same_phone_make_exactly_one_member():
    def sign_up(i: int) -> Any:
        return services.do_create_member(data=services.NewMember(name=f"会员{i}", phone="13812345678"))

    results = race(20, sign_up)
    made = [r for r in results if isinstance(r, Member)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(made) == 1, results
    assert len(refused) == 19, results
    assert {e.code for e in refused} == {"phone_taken"}
    assert Member.objects.filter(phone="+8613812345678").count() == 1


def test_twenty_posts_of_the_same_sale_with_different_keys_record_one_transaction(store, api_key):
    key = api_key("transactions:write")
    member = make_member()
    body = {
        "external_id": "R-1",
        "store_code": "SH001",
        "member_no": member.member_no,
        "occurred_at": AT,
        "amount": "88.50",
    }
    results = race(20, lambda i: post(key, "/transactions", body, idem=f"k{i}"))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 19 + [201], results
    assert len({body["id"] for _, body in results}) == 1
    assert Transaction.objects.count() == 1


def test_ten_refunds_that_together_exceed_the_sale_never_refund_more_than_it(store):
    sale = make_sale(make_member(), store, amount="100.00")

    def refund(i: int) -> Any:
        return services.do_record_refund(
            original=sale, external_id=f"RF{i}", amount=Decimal("30.00"), occurred_at=clock.now()
        )

    results = race(10, refund)
    done = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(done) == 3, results
    assert {e.code for e in refused} == {"refund_exceeds_sale"}
    assert services.refunded_so_far(sale) == Decimal("90.00")
    assert services.refunded_so_far(sale) <= sale.amount


def test_sixteen_requests_with_the_same_idempotency_key_make_one_transaction(store, api_key):
    key = api_key("transactions:write")
    member = make_member()
    body = {
        "external_id": "R-1",
        "store_code": "SH001",
        "member_no": member.member_no,
        "occurred_at": AT,
        "amount": "10.00",
    }
    results = race(16, lambda i: post(key, "/transactions", body, idem="same-key"))
    ok = [b for status, b in results if status == 201]
    busy = [b for status, b in results if status == 409]
    assert len(ok) + len(busy) == 16, results
    assert ok and all(b == ok[0] for b in ok)
    assert all(b["code"] == "duplicate_request" for b in busy)
    assert Transaction.objects.count() == 1


def test_concurrent_tagging_of_one_member_with_a_new_tag_keeps_one_link():
    member = make_member()
    results = race(10, lambda i: services.do_tag_member(member=member, tag_name="VIP", source="api"))
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)], results
    assert member.member_tags.count() == 1
