"""Tiers over the API: the live ladder and a member's tier with progress, by scope."""

from __future__ import annotations

import pytest

from patron.tiers import services
from tests.api.conftest import Api, assert_error
from tests.factories import make_member, make_sale
from tests.tiers.conftest import at, on

pytestmark = pytest.mark.django_db
NOW = "2026-06-01 10:00"


@pytest.fixture
def make_api(client, api_key):
    """A JSON client with a key of these scopes (or with the key text given, or none)."""

    def make(*scopes: str, key: str | None = None) -> Api:
        return Api(client, key if key is not None else api_key(*scopes))

    return make


@pytest.fixture
def member(store):
    with on(NOW):
        member = make_member(store=store)
        make_sale(member, store, amount="1200.00", occurred_at=at(NOW))
    return member


def test_the_tier_list_gives_the_live_ladder_with_benefits(make_api, live):
    live()
    for scope in ("members:read", "pos"):
        r = make_api(scope).get("/tiers")
        assert r.status_code == 200, r.content
        tiers = r.json()["tiers"]
        assert [t["code"] for t in tiers] == ["base", "silver", "gold", "diamond"]
        assert [t["level"] for t in tiers] == [0, 1, 2, 3]
        gold = tiers[2]
        assert (gold["name"], gold["name_en"], gold["color"], gold["lifetime"]) == ("金卡", "Gold", "#8c8c8c", False)
        assert gold["qualify"] == {"combine": "any", "spend": "5000"}
        assert gold["benefits"] == [{"kind": "earn_multiplier", "factor": "1.5", "note": "", "note_en": ""}]


def test_the_tier_list_is_empty_while_no_model_is_live(make_api, db):
    r = make_api("members:read").get("/tiers")
    assert r.status_code == 200 and r.json() == {"tiers": []}


def test_a_members_tier_with_since_review_and_progress(make_api, live, member):
    live()
    with on(NOW):
        make_sale(member, member.store, amount="100.00", occurred_at=at(NOW))
        r = make_api("pos").get(f"/members/{member.member_no}/tier")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["member_no"] == member.member_no
    assert body["tier"] == {"code": "silver", "name": "银卡", "name_en": "Silver", "color": "#8c8c8c", "badge": ""}
    assert (body["rules_tier"], body["since"], body["review_on"]) == ("silver", "2026-06-01", "2027-01-01")
    assert body["override"] is None and body["lifetime_floor"] is None and body["grace_until"] is None
    goal = body["progress"]["next"]
    assert (goal["tier"], goal["combine"], goal["by"], goal["met"]) == ("gold", "any", "2026-12-31", False)
    assert goal["needs"] == [
        {"metric": "spend", "have": "1300.00", "target": "5000.00", "missing": "3700.00", "percent": 26}
    ]
    keep = body["progress"]["keep"]
    assert (keep["tier"], keep["met"], keep["by"]) == ("silver", True, "2026-12-31")
    assert {n["metric"]: n["have"] for n in keep["needs"]} == {"spend": "1300.00", "purchase_days": 1}


def test_a_members_tier_shows_an_override(make_api, live, member):
    live()
    with on(NOW):
        make_sale(member, member.store, amount="100.00", occurred_at=at(NOW))  # to silver
        services.do_set_override(member=member, tier_code="diamond", until=at("2026-09-01 00:00"), reason="状态匹配")
        body = make_api("members:read").get(f"/members/{member.member_no}/tier").json()
    assert (body["tier"]["code"], body["rules_tier"]) == ("diamond", "silver")
    assert body["override"] == {"tier": "diamond", "until": "2026-08-31T16:00:00Z", "reason": "状态匹配"}


def test_unknown_member_is_a_404_in_the_error_shape(make_api, live):
    live()
    api = make_api("members:read")
    assert_error(api.get("/members/0000000000/tier"), 404, "member_not_found")
    assert_error(api.get("/members/" + "9" * 40 + "/tier"), 404, "member_not_found")


def test_a_member_while_no_model_is_live_is_a_404_that_says_so(make_api, member):
    assert_error(make_api("pos").get(f"/members/{member.member_no}/tier"), 404, "no_live_tier_model")


@pytest.mark.parametrize("path", ["/tiers", "/members/{no}/tier"])
def test_both_need_members_read_or_pos(make_api, live, member, path):
    live()
    url = path.format(no=member.member_no)
    body = assert_error(make_api("transactions:write", "members:write").get(url), 403, "scope_missing")
    assert "members:read" in body["message"] and "pos" in body["message"]
    assert_error(make_api(key="pk_nonsense_key").get(url), 401, "invalid_api_key")
    assert_error(make_api(key="").get(url), 401, "invalid_api_key")  # no key at all


def test_the_openapi_document_lists_both(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert "get" in doc["paths"]["/api/v1/tiers"]
    operation = doc["paths"]["/api/v1/members/{member_no}/tier"]["get"]
    assert operation["tags"] == ["tiers"]
    assert {"200", "403", "404"} <= set(operation["responses"])
    assert operation["security"]
