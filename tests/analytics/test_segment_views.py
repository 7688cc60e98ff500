"""The segment pages: by role, the builder's save and refusal, the live count, snapshots, exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from patron.analytics import services
from patron.analytics.models import MemberMetrics, Segment, SegmentSnapshot
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from tests.factories import make_member

OVERDUE = {"match": "all", "conditions": [{"field": "overdue", "value": True}]}


@pytest.fixture
def members(db):
    """Five members with metrics; two of them overdue."""
    people = [make_member(name=f"会员{i}") for i in range(5)]
    services.refresh_metrics()
    MemberMetrics.objects.filter(member__in=people[:2]).update(overdue=True)
    return people


def test_pages_by_role(client, staff, members):
    segment = services.create_segment(name="逾期", rules=OVERDUE)
    for role in Role:
        client.force_login(staff(role.value))
        viewer = role in roles_with(Perm.SEGMENTS_VIEW)
        manager = role in roles_with(Perm.SEGMENTS_MANAGE)
        exporter = viewer and role in roles_with(Perm.MEMBERS_EXPORT)
        assert client.get(reverse("analytics:segments")).status_code == (200 if viewer else 403), role
        assert client.get(reverse("analytics:segment", args=[segment.pk])).status_code == (200 if viewer else 403)
        assert client.get(reverse("analytics:segment_new")).status_code == (200 if manager else 403), role
        count = client.post(reverse("analytics:segment_count"), {"rules": json.dumps(OVERDUE)})
        assert count.status_code == (200 if viewer else 403)
        export = client.get(reverse("analytics:segment_export", args=[segment.pk]))
        assert export.status_code == (200 if exporter else 403), role
        if not manager:
            before = AuditEntry.objects.count()
            assert client.post(reverse("analytics:segment_snapshot", args=[segment.pk])).status_code == 403
            response = client.post(reverse("analytics:segment", args=[segment.pk]), {"name": "x", "rules": "{}"})
            assert response.status_code == 403
            assert AuditEntry.objects.count() == before
    assert Segment.objects.get(pk=segment.pk).name == "逾期"
    assert not SegmentSnapshot.objects.exists()


def test_the_live_count_and_a_masked_sample(client, staff, members):
    client.force_login(staff("marketer"))
    page = client.post(reverse("analytics:segment_count"), {"rules": json.dumps(OVERDUE)}).content.decode()
    assert 'data-testid="segment-count">2<' in page
    assert page.count('data-testid="sample-row"') == 2
    assert members[0].phone not in page and members[0].phone[-4:] in page  # masked
    bad = {"match": "all", "conditions": [{"field": "clv", "value": [9, 1]}]}
    page = client.post(reverse("analytics:segment_count"), {"rules": json.dumps(bad)}).content.decode()
    assert "the lower end is above the upper end" in page


def test_save_edit_snapshot_and_archive_through_the_pages(client, staff, members):
    client.force_login(staff("marketer"))
    response = client.post(
        reverse("analytics:segment_new"), {"name": "逾期会员", "description": "召回", "rules": json.dumps(OVERDUE)}
    )
    segment = Segment.objects.get(name="逾期会员")
    assert response.status_code == 302 and response["Location"] == reverse("analytics:segment", args=[segment.pk])
    assert segment.rules == OVERDUE

    refused = client.post(reverse("analytics:segment_new"), {"name": "", "rules": json.dumps(OVERDUE)})
    assert refused.status_code == 422 and "A segment needs a name." in refused.content.decode()
    broken = client.post(reverse("analytics:segment", args=[segment.pk]), {"name": "逾期会员", "rules": "{not json"})
    assert broken.status_code == 422
    assert "The rules are not valid JSON." in broken.content.decode()
    assert Segment.objects.get(pk=segment.pk).rules == OVERDUE

    snap = client.post(reverse("analytics:segment_snapshot", args=[segment.pk]), {"label": "三月"})
    snapshot = SegmentSnapshot.objects.get(segment=segment)
    assert snap["Location"] == reverse("analytics:snapshot", args=[snapshot.pk])
    page = client.get(snap["Location"]).content.decode()
    assert page.count('data-testid="snapshot-row"') == 2 == snapshot.member_count

    client.post(reverse("analytics:segment_archive", args=[segment.pk]))
    assert Segment.objects.get(pk=segment.pk).archived_at is not None
    assert "逾期会员" not in client.get(reverse("analytics:segments")).content.decode()


def test_exports_hold_the_segment_s_members_and_are_audited(client, staff, members):
    segment = services.create_segment(name="逾期", rules=OVERDUE)
    client.force_login(staff("analyst"))
    response = client.get(reverse("analytics:segment_export", args=[segment.pk]), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 3  # the header and two members
    assert {r[0] for r in rows[1:]} == {m.member_no for m in members[:2]}
    assert members[0].phone not in "".join(rows[1])  # the analyst may not reveal phones
    xlsx = client.get(reverse("analytics:segment_export", args=[segment.pk]), {"format": "xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    audits = AuditEntry.objects.filter(action="members.export").order_by("pk")
    assert [a.after["segment"] for a in audits] == [segment.pk, segment.pk]
    snapshot = services.take_snapshot(segment)
    response = client.get(reverse("analytics:snapshot_export", args=[snapshot.pk]), {"format": "csv"})
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))) == 3


def test_the_builder_page_carries_the_catalog_in_the_page_language(client, staff, members):
    client.force_login(staff("marketer"))
    page = client.get(reverse("analytics:segment_new"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "新建人群" in page
    start = page.index('<script id="segment-catalog" type="application/json">') + len(
        '<script id="segment-catalog" type="application/json">'
    )
    catalog = json.loads(page[start : page.index("</script>", start)])
    labels = {f["key"]: f["label"] for f in catalog["fields"]}
    assert labels["overdue"] == "超出惯常复购周期" and labels["tier"] == "会员等级"


def test_the_builder_s_units_are_in_the_page_language(client, staff, members):
    client.force_login(staff("marketer"))
    page = client.get(reverse("analytics:segment_new"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    start = page.index('<script id="segment-catalog" type="application/json">') + len(
        '<script id="segment-catalog" type="application/json">'
    )
    units = {f["key"]: f["unit"] for f in json.loads(page[start : page.index("</script>", start)])["fields"]}
    assert (units["age"], units["recency_days"], units["points_balance"], units["clv"]) == ("岁", "天", "积分", "¥")


def test_counting_a_saved_segment_s_own_rules_keeps_the_count(client, staff, members):
    segment = services.create_segment(name="逾期", rules=OVERDUE)
    client.force_login(staff("marketer"))
    other = {"match": "all", "conditions": [{"field": "gone_cold", "value": True}]}
    client.post(reverse("analytics:segment_count"), {"rules": json.dumps(other), "segment": segment.pk})
    assert Segment.objects.get(pk=segment.pk).last_count is None  # rules being edited, not saved
    client.post(reverse("analytics:segment_count"), {"rules": json.dumps(OVERDUE), "segment": segment.pk})
    assert Segment.objects.get(pk=segment.pk).last_count == 2


# --------------------------------------------------------------------------- coupons to a snapshot


def test_coupons_go_to_the_members_frozen_in_the_snapshot_and_no_one_else(client, staff, members):
    from patron.rewards.models import Coupon
    from tests.rewards.factories import make_batch

    batch = make_batch()
    segment = services.create_segment(name="逾期", rules=OVERDUE)
    snapshot = services.take_snapshot(segment)
    MemberMetrics.objects.filter(member=members[2]).update(overdue=True)  # in the segment after the snapshot
    client.force_login(staff("marketer"))
    page = client.get(reverse("analytics:snapshot", args=[snapshot.pk])).content.decode()
    assert 'data-testid="snapshot-coupons"' in page and batch.code in page
    response = client.post(reverse("analytics:snapshot_coupons", args=[snapshot.pk]), {"batch": batch.pk}, follow=True)
    assert "2 coupons issued; 0 members skipped" in response.content.decode()
    holders = set(Coupon.objects.filter(batch=batch).values_list("member_id", flat=True))
    assert holders == {members[0].pk, members[1].pk}
    assert set(Coupon.objects.filter(batch=batch).values_list("source_ref", flat=True)) == {f"snapshot:{snapshot.pk}"}
    audit = AuditEntry.objects.get(action="segments.snapshot_coupons")
    assert audit.after == {"batch": batch.code, "members": 2, "queued": False}
    response = client.post(reverse("analytics:snapshot_coupons", args=[snapshot.pk]), {"batch": ""}, follow=True)
    assert "Choose a coupon batch." in response.content.decode()


def test_a_large_snapshot_is_issued_in_the_background(
    client, staff, members, monkeypatch, django_capture_on_commit_callbacks
):
    from types import SimpleNamespace

    from patron.rewards import services as reward_services
    from patron.rewards import tasks
    from tests.rewards.factories import make_batch

    batch = make_batch()
    snapshot = services.take_snapshot(services.create_segment(name="逾期", rules=OVERDUE))
    monkeypatch.setattr(reward_services.coupons, "GROUP_INLINE", 1)
    queued = []
    monkeypatch.setattr(tasks, "issue_to_members", SimpleNamespace(enqueue=lambda *args: queued.append(args)))
    client.force_login(staff("marketer"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("analytics:snapshot_coupons", args=[snapshot.pk]), {"batch": batch.pk}, follow=True
        )
    assert "Coupons for 2 members are being issued in the background." in response.content.decode()
    assert queued == [(batch.pk, sorted([members[0].pk, members[1].pk]), f"snapshot:{snapshot.pk}")]


def test_issuing_to_a_snapshot_by_role(client, staff, members):
    from patron.rewards.models import Coupon
    from tests.rewards.factories import make_batch

    batch = make_batch()
    snapshot = services.take_snapshot(services.create_segment(name="逾期", rules=OVERDUE))
    for role in Role:
        client.force_login(staff(role.value))
        allowed = role in roles_with(Perm.SEGMENTS_VIEW) and role in roles_with(Perm.COUPONS_ISSUE)
        if role in roles_with(Perm.SEGMENTS_VIEW):
            page = client.get(reverse("analytics:snapshot", args=[snapshot.pk])).content.decode()
            assert ('data-testid="snapshot-coupons"' in page) == allowed, role
        before = Coupon.objects.count()
        response = client.post(reverse("analytics:snapshot_coupons", args=[snapshot.pk]), {"batch": batch.pk})
        assert response.status_code == (302 if allowed else 403), role
        if not allowed:
            assert Coupon.objects.count() == before, role  # nothing issued on a refusal
    assert set(Coupon.objects.filter(batch=batch).values_list("member_id", flat=True)) == {m.pk for m in members[:2]}
