"""Analytics over the API: a member's metrics, segments listed, evaluated and paged, snapshots, by
scope."""

from __future__ import annotations

import pytest

from patron.analytics import services
from patron.analytics.models import MemberMetrics, SegmentSnapshot
from tests.api.conftest import Api, assert_error
from tests.factories import make_member

pytestmark = pytest.mark.django_db
OVERDUE = {"match": "all", "conditions": [{"field": "overdue", "value": True}]}


@pytest.fixture
def make_api(client, api_key):
    def make(*scopes: str) -> Api:
        return Api(client, api_key(*scopes))

    return make


@pytest.fixture
def people(db):
    people = [make_member(name=f"会员{i}") for i in range(7)]
    services.refresh_metrics()
    MemberMetrics.objects.filter(member__in=people[:5]).update(overdue=True, interval_median=30, recency_days=45)
    return people


def test_a_member_s_metrics_need_the_analytics_scope(make_api, people):
    path = f"/members/{people[0].member_no}/metrics"
    assert_error(make_api("members:read").get(path), 403, "scope_missing")
    body = make_api("analytics:read").get(path).json()
    assert body["member_no"] == people[0].member_no
    assert body["lifecycle_stage"] == "prospect" and body["overdue"] is True
    assert body["churn_reasons"] and "30" in body["churn_reasons"][0]
    assert body["rfm"] is None and body["clv"] is None
    assert_error(make_api("analytics:read").get("/members/0000000000/metrics"), 404, "member_not_found")


def test_evaluate_counts_and_refuses_bad_rules(make_api, people):
    api = make_api("segments:read")
    body = api.write("post", "/segments/evaluate", {"rules": OVERDUE}, idem=None).json()
    assert body["count"] == 5 and len(body["sample"]) == 5
    assert people[0].phone not in {s["phone"] for s in body["sample"]}  # masked without members:pii
    full = make_api("segments:read", "members:pii").write("post", "/segments/evaluate", {"rules": OVERDUE}, idem=None)
    assert people[0].phone in {s["phone"] for s in full.json()["sample"]}
    bad = {"match": "all", "conditions": [{"field": "clv", "value": [5, 1]}]}
    assert_error(api.write("post", "/segments/evaluate", {"rules": bad}, idem=None), 422, "invalid_segment")
    assert_error(make_api("members:read").write("post", "/segments/evaluate", {"rules": OVERDUE}), 403, "scope_missing")


def test_segments_list_detail_and_members_by_cursor(make_api, people):
    segment = services.create_segment(name="逾期", rules=OVERDUE)
    api = make_api("segments:read")
    assert [s["name"] for s in api.get("/segments").json()["items"]] == ["逾期"]
    assert api.get(f"/segments/{segment.pk}").json()["rules"] == OVERDUE
    first = api.get(f"/segments/{segment.pk}/members?limit=2").json()
    assert len(first["items"]) == 2 and first["next_after"] == first["items"][-1]["id"]
    seen = [m["member_no"] for m in first["items"]]
    after = first["next_after"]
    while after is not None:
        page = api.get(f"/segments/{segment.pk}/members?limit=2&after={after}").json()
        seen += [m["member_no"] for m in page["items"]]
        after = page["next_after"]
    assert sorted(seen) == sorted(m.member_no for m in people[:5])
    assert_error(api.get("/segments/999999"), 404, "segment_not_found")


def test_a_snapshot_is_a_write_with_an_idempotency_key(make_api, people):
    segment = services.create_segment(name="逾期", rules=OVERDUE)
    assert_error(make_api("segments:read").write("post", f"/segments/{segment.pk}/snapshots", {}), 403, "scope_missing")
    api = make_api("segments:read", "segments:write")
    assert_error(api.write("post", f"/segments/{segment.pk}/snapshots", {}, idem=None), 422, "idempotency_key_required")
    first = api.write("post", f"/segments/{segment.pk}/snapshots", {"label": "三月"}, idem="snap-1")
    again = api.write("post", f"/segments/{segment.pk}/snapshots", {"label": "三月"}, idem="snap-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first.json()["member_count"] == 5
    assert SegmentSnapshot.objects.count() == 1
    page = api.get(f"/snapshots/{first.json()['id']}/members").json()
    assert len(page["items"]) == 5 and page["next_after"] is None
