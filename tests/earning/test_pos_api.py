"""The till's API end to end: quote, earn on a sale, pay with points, holds, refunds, reversal,
balance; retries and refusals; the ledger's invariants after every test."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from patron.core import clock
from patron.ledger import audit, queries
from patron.ledger import services as ledger
from patron.ledger.models import Journal, JournalKind
from patron.members import services as member_services
from tests.earning.rules import one_point_per_yuan
from tests.factories import make_member

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _invariants_hold(db):
    yield
    failed = [c for c in audit.run() if not c.ok]
    assert not failed, [(c.name, c.detail, c.rows) for c in failed]


@pytest.fixture
def rules(db):
    return one_point_per_yuan()


@pytest.fixture
def till(pos_key, store):
    return pos_key("pos", "transactions:write", bound_store=store)


@pytest.fixture
def member(db):
    return make_member(name="王芳")


def sale_body(member, amount="100.00", **kw):
    body = {
        "member_no": member.member_no,
        "external_id": kw.pop("external_id", f"S{next(_ids)}"),
        "amount": amount,
        "occurred_at": clock.now().isoformat(),
    }
    body.update(kw)
    return body


def post(till, client, path, body, key=None):
    return till.post(client, f"/api/v1/pos{path}", body, idempotency_key=key or f"k{next(_ids)}")


def test_quote_tells_points_without_posting(client, till, member, rules):
    r = post(till, client, "/quote", {"member_no": member.member_no, "amount": "88.80"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["points"] == 88
    assert body["awards"][0]["points"] == 88
    assert not Journal.objects.exists()


def test_sale_earns_pending_points_and_says_which_rules_fired(client, till, member, rules):
    r = post(till, client, "/sales", sale_body(member, "100.00"))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["points_earned"] == 100 and body["points_pending"] is True
    assert body["rules"][0]["points"] == 100
    assert body["balance"]["pending"] == 100 and body["balance"]["available"] == 0


def test_a_retried_sale_never_earns_twice(client, till, member, rules):
    body = sale_body(member, "50.00")
    first = post(till, client, "/sales", body, key="till-1")
    again = post(till, client, "/sales", body, key="till-1")
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    new_key = post(till, client, "/sales", body, key="till-1-after-prune")
    assert new_key.status_code == 200 and new_key.json()["replayed"] is True
    assert new_key.json()["points_earned"] == 50
    assert Journal.objects.filter(kind=JournalKind.EARN).count() == 1


def test_same_key_other_body_is_422(client, till, member, rules):
    post(till, client, "/sales", sale_body(member, "50.00", external_id="A1"), key="k-same")
    r = post(till, client, "/sales", sale_body(member, "60.00", external_id="A1"), key="k-same")
    assert r.status_code == 422 and r.json()["code"] == "idempotency_mismatch"


def test_pay_with_points_at_the_till(client, till, member, rules):
    ledger.do_update_program(changes={"return_window_days": 0, "points_per_currency_unit": 100})
    ledger.do_earn(member=member, points=1000, point_type="purchase")
    r = post(till, client, "/sales", sale_body(member, "30.00", pay_with_points=500))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["points_redeemed"] == 500 and body["paid_with_points_value"] == "5.00"
    assert body["balance"]["available"] == 1000 - 500 + 30


def test_paying_with_more_points_than_held_is_refused_and_nothing_is_recorded(client, till, member, rules):
    r = post(till, client, "/sales", sale_body(member, "30.00", pay_with_points=10, external_id="X9"))
    assert r.status_code == 422 and r.json()["code"] == "insufficient_points"
    assert not Journal.objects.exists()
    assert not member.transactions.exists()


def test_redeem_hold_commit_void(client, till, member, rules):
    ledger.do_earn(member=member, points=300, point_type="purchase")
    r = post(till, client, "/redemptions", {"member_no": member.member_no, "points": 100})
    assert r.status_code == 201 and r.json()["balance"]["available"] == 200
    held = post(till, client, "/holds", {"member_no": member.member_no, "points": 150, "reference": "order-7"})
    assert held.status_code == 201, held.content
    hold_id = held.json()["id"]
    assert queries.balance(member).held == 150
    committed = post(till, client, f"/holds/{hold_id}/commit", {})
    assert committed.status_code == 200 and committed.json()["status"] == "committed"
    twice = post(till, client, f"/holds/{hold_id}/void", {})
    assert twice.status_code == 422 and twice.json()["code"] == "hold_not_open"
    second = post(till, client, "/holds", {"member_no": member.member_no, "points": 50})
    voided = post(till, client, f"/holds/{second.json()['id']}/void", {})
    assert voided.json()["status"] == "voided"
    assert queries.balance(member).available == 50


def test_insufficient_points_code(client, till, member, rules):
    r = post(till, client, "/redemptions", {"member_no": member.member_no, "points": 1})
    assert r.status_code == 422 and r.json()["code"] == "insufficient_points"


def test_partial_refund_takes_back_in_proportion_and_returns_spent_points(client, till, member, rules):
    ledger.do_update_program(changes={"return_window_days": 0})
    ledger.do_earn(member=member, points=400, point_type="purchase")
    sale = post(till, client, "/sales", sale_body(member, "200.00", external_id="S-200", pay_with_points=400))
    assert sale.json()["points_earned"] == 200
    refund = post(
        till,
        client,
        "/refunds",
        {
            "original_external_id": "S-200",
            "external_id": "R-1",
            "amount": "50.00",
            "occurred_at": clock.now().isoformat(),
        },
    )
    assert refund.status_code == 201, refund.content
    body = refund.json()
    assert body["points_taken_back"] == 50 and body["points_returned"] == 100
    assert body["balance"]["available"] == 200 - 50 + 100


def test_reverse_a_mistaken_sale(client, till, member, rules):
    post(till, client, "/sales", sale_body(member, "80.00", external_id="OOPS"))
    r = post(till, client, "/sales/OOPS/reverse", {"reason": "wrong member"})
    assert r.status_code == 201, r.content
    assert r.json()["points_taken_back"] == 80
    assert queries.balance(member).total == 0
    again = post(till, client, "/sales/OOPS/reverse", {"reason": "wrong member"})
    assert again.status_code == 200 and again.json()["replayed"] is True


def test_balance_and_expiring_points(client, till, member, rules):
    ledger.do_update_program(
        changes={
            "expiry": {
                "purchase": {"mode": "months", "n": 1},
                "activity": {"mode": "months", "n": 12},
                "bonus": {"mode": "never", "n": 0},
                "adjustment": {"mode": "months", "n": 12},
            }
        }
    )
    ledger.do_earn(member=member, points=70, point_type="purchase")
    ledger.do_earn(member=member, points=30, point_type="bonus")
    r = till.get(client, f"/api/v1/pos/balance?member_no={member.member_no}&days=40")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["available"] == 100 and body["by_type"]["bonus"]["available"] == 30
    assert [e["points"] for e in body["expiring"]] == [70]


def test_frozen_member_cannot_earn_or_redeem(client, till, member, rules):
    member_services.do_change_status(member=member, status="frozen", reason="card reported stolen")
    r = post(till, client, "/sales", sale_body(member))
    assert r.status_code == 422 and r.json()["code"] == "member_frozen"
    r = post(till, client, "/redemptions", {"member_no": member.member_no, "points": 1})
    assert r.status_code == 422 and r.json()["code"] == "member_frozen"


def test_scopes_and_signatures(client, pos_key, store, member, rules):
    lookup_only = pos_key("pos", bound_store=store)
    r = post(lookup_only, client, "/sales", sale_body(member))
    assert r.status_code == 403 and r.json()["code"] == "scope_missing"
    till = pos_key("pos", "transactions:write", bound_store=store)
    unsigned = client.post(
        "/api/v1/pos/sales",
        sale_body(member),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {till.plain}",
        HTTP_IDEMPOTENCY_KEY="u1",
    )
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "signature_missing"


def test_sales_through_the_plain_transactions_api_earn_too(client, pos_key, store, member, rules):
    key = pos_key("transactions:write", bound_store=store)
    r = client.post(
        "/api/v1/transactions",
        {
            "member_no": member.member_no,
            "external_id": "T-1",
            "amount": "20.00",
            "occurred_at": clock.now().isoformat(),
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key.plain}",
        HTTP_IDEMPOTENCY_KEY="t1",
    )
    assert r.status_code == 201, r.content
    assert queries.balance(member).pending == 20


def test_the_return_window_runs_from_the_sale_time(client, till, member, rules):
    old = clock.now() - dt.timedelta(days=30)
    r = post(till, client, "/sales", sale_body(member, "10.00", occurred_at=old.isoformat()))
    assert r.status_code == 201
    assert r.json()["points_pending"] is False and r.json()["balance"]["available"] == 10


def test_activity_points_through_the_api(client, pos_key, member):
    key = pos_key("activities:write")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key.plain}", "content_type": "application/json"}
    body = {"member_no": member.member_no, "activity": "survey_answered", "reference": "NPS-2026-11"}
    r = client.post("/api/v1/activities", body, HTTP_IDEMPOTENCY_KEY="a1", **headers)
    assert r.status_code == 201, r.content
    assert r.json()["points"] > 0 and r.json()["balance"]["available"] == r.json()["points"]
    again = client.post("/api/v1/activities", body, HTTP_IDEMPOTENCY_KEY="a2", **headers)
    assert again.status_code == 422 and again.json()["code"] == "already_awarded"
    unknown = client.post("/api/v1/activities", {**body, "activity": "juggling"}, HTTP_IDEMPOTENCY_KEY="a3", **headers)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_activity"
    no_scope = pos_key("pos")
    r = client.post(
        "/api/v1/activities",
        body,
        HTTP_IDEMPOTENCY_KEY="a4",
        HTTP_AUTHORIZATION=f"Bearer {no_scope.plain}",
        content_type="application/json",
    )
    assert r.status_code == 403
