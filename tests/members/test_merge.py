"""Merging two records of one person, and undoing it within the window."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.factories import make_member, make_sale

from patron.core import clock
from patron.core.errors import Conflict, ValidationFailed
from patron.core.models import AuditEntry
from patron.members import queries, services
from patron.members.models import (
    ConsentRecord,
    Member,
    MemberAttribute,
    MemberMerge,
    MemberStatus,
    MemberTag,
    TimelineEntry,
    Transaction,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def pair(store):
    """A survivor and an absorbed member, the absorbed one with a record in every table."""
    with clock.frozen(T0):
        services.do_define_attribute(key="kids", label="孩子数", label_en="Kids", type="integer")
        services.do_define_attribute(key="car", label="有车", label_en="Car", type="boolean")
        survivor = make_member("张伟", phone="13812345678", attributes={"kids": 1})
        absorbed = make_member("张伟", phone="13912345678", card_no="C-77", consents={"sms_marketing": True})
        services.do_set_attributes(member=absorbed, values={"kids": 2, "car": True})
        services.do_tag_member(member=survivor, tag_name="VIP")
        services.do_tag_member(member=absorbed, tag_name="VIP")
        services.do_tag_member(member=absorbed, tag_name="车主")
        sale = make_sale(absorbed, store, amount="120.00", external_id="A-1", occurred_at=T0)
        services.do_record_refund(original=sale, external_id="A-1R", amount=Decimal("20.00"), occurred_at=T0)
        referee = make_member("李娜", referrer=absorbed)
    return survivor, absorbed, referee


def snapshot(member):
    """Every row that belongs to a member, by table."""
    return {
        "transactions": set(Transaction.objects.filter(member=member).values_list("pk", flat=True)),
        "consents": set(ConsentRecord.objects.filter(member=member).values_list("pk", flat=True)),
        "timeline": set(TimelineEntry.objects.filter(member=member).values_list("pk", flat=True)),
        "tags": set(MemberTag.objects.filter(member=member).values_list("pk", flat=True)),
        "attributes": set(MemberAttribute.objects.filter(member=member).values_list("pk", flat=True)),
        "referees": set(Member.objects.filter(referrer=member).values_list("pk", flat=True)),
        "member": Member.objects.filter(pk=member.pk)
        .values("status", "status_reason", "card_no", "phone", "merged_into")
        .get(),
    }


def merge(pair, reason="same person, two phones"):
    survivor, absorbed, _referee = pair
    with clock.frozen(T0 + dt.timedelta(days=1)):
        return services.do_merge_members(survivor=survivor, absorbed=absorbed, reason=reason)


def test_merge_moves_every_record_of_the_absorbed_member(pair):
    survivor, absorbed, referee = pair
    before_s, before_a = snapshot(survivor), snapshot(absorbed)
    m = merge(pair)
    after_s, after_a = snapshot(survivor), snapshot(absorbed)
    for table in ("transactions", "consents", "timeline"):
        assert before_a[table] <= after_s[table], table
        assert before_s[table] <= after_s[table], table
    assert len(after_s["transactions"]) == 2
    assert after_s["referees"] == {referee.pk}
    # Tags and attributes move where the survivor has none of the same; the survivor's own win.
    assert {t.tag.name for t in MemberTag.objects.filter(member=survivor)} == {"VIP", "车主"}
    values = dict(MemberAttribute.objects.filter(member=survivor).values_list("definition__key", "value"))
    assert values == {"kids": 1, "car": True}
    assert after_s["member"]["card_no"] == "C-77"
    assert after_a["member"]["card_no"] is None
    assert m.moved["card_moved"] is True
    # The spend shows on the survivor.
    assert queries.member_360(survivor).totals["spend"] == {"CNY": "100.00"}


def test_merge_marks_the_absorbed_member_merged_and_frees_its_phone(pair):
    survivor, absorbed, _ = pair
    merge(pair)
    absorbed.refresh_from_db()
    assert absorbed.status == MemberStatus.MERGED
    assert absorbed.merged_into_id == survivor.pk
    assert absorbed.status_reason == "same person, two phones"
    newcomer = make_member("新人", phone="13912345678")
    assert newcomer.status == MemberStatus.ACTIVE


def test_merge_writes_audit_rows_and_timeline(pair):
    survivor, absorbed, _ = pair
    m = merge(pair)
    row = AuditEntry.objects.get(action="member.merge")
    assert row.object_id == str(survivor.pk)
    assert row.after == {"absorbed": absorbed.member_no, "merge_id": m.pk}
    assert row.reason == "same person, two phones"
    assert AuditEntry.objects.filter(action="member.merged_away", object_id=str(absorbed.pk)).exists()
    assert TimelineEntry.objects.filter(member=survivor, kind="merged", data__merge_id=m.pk).exists()


def test_merge_needs_two_different_live_members_and_a_reason(pair):
    survivor, absorbed, _ = pair
    with pytest.raises(ValidationFailed) as err:
        services.do_merge_members(survivor=survivor, absorbed=survivor, reason="x")
    assert err.value.code == "merge_same_member"
    with pytest.raises(ValidationFailed) as err:
        services.do_merge_members(survivor=survivor, absorbed=absorbed, reason=" ")
    assert err.value.code == "reason_required"
    services.do_change_status(member=absorbed, status="closed", reason="left")
    with pytest.raises(ValidationFailed) as err:
        services.do_merge_members(survivor=survivor, absorbed=absorbed, reason="x")
    assert err.value.code == "merge_not_allowed"


def test_already_merged_member_cannot_be_merged_again(pair):
    survivor, absorbed, _ = pair
    merge(pair)
    with pytest.raises(ValidationFailed) as err:
        services.do_merge_members(survivor=survivor, absorbed=absorbed, reason="again")
    assert err.value.code == "merge_not_allowed"


def test_undo_within_30_days_restores_exactly(pair):
    survivor, absorbed, referee = pair
    before_s, before_a = snapshot(survivor), snapshot(absorbed)
    m = merge(pair)
    with clock.frozen(T0 + dt.timedelta(days=30)):
        services.do_undo_merge(merge=m, reason="different people after all")
    after_s, after_a = snapshot(survivor), snapshot(absorbed)
    assert after_a["member"] == before_a["member"]
    assert after_s["member"] == before_s["member"]
    for table in ("transactions", "consents", "tags", "attributes", "referees"):
        assert after_a[table] == before_a[table], table
        assert after_s[table] == before_s[table], table
    # Timelines get back what they had, plus the rows that tell the story of the merge.
    assert before_a["timeline"] <= after_a["timeline"]
    assert before_s["timeline"] <= after_s["timeline"]
    assert not (before_a["timeline"] & after_s["timeline"])
    m.refresh_from_db()
    assert m.undone_at == T0 + dt.timedelta(days=30)
    assert m.undone_by == "system"
    assert AuditEntry.objects.filter(action="member.unmerge", object_id=str(survivor.pk)).exists()
    assert referee.pk in after_a["referees"]


def test_undo_restores_a_frozen_member_as_frozen(pair):
    _survivor, absorbed, _ = pair
    services.do_change_status(member=absorbed, status="frozen", reason="card stolen")
    m = merge(pair)
    with clock.frozen(T0 + dt.timedelta(days=2)):
        services.do_undo_merge(merge=m, reason="mistake")
    absorbed.refresh_from_db()
    assert (absorbed.status, absorbed.status_reason) == (MemberStatus.FROZEN, "card stolen")


def test_undo_keeps_what_happened_to_the_survivor_after_the_merge(pair, store):
    survivor, _absorbed, _ = pair
    m = merge(pair)
    with clock.frozen(T0 + dt.timedelta(days=2)):
        later = make_sale(survivor, store, amount="5.00", external_id="LATER", occurred_at=T0 + dt.timedelta(days=2))
        services.do_undo_merge(merge=m, reason="mistake")
    later.refresh_from_db()
    assert later.member_id == survivor.pk


def test_undo_after_30_days_is_refused(pair):
    m = merge(pair)
    with clock.frozen(T0 + dt.timedelta(days=31, seconds=1)), pytest.raises(ValidationFailed) as err:
        services.do_undo_merge(merge=m, reason="too late")
    assert err.value.code == "merge_undo_expired"
    m.refresh_from_db()
    assert m.undone_at is None
    assert Member.objects.get(pk=m.absorbed_id).status == MemberStatus.MERGED


def test_undo_twice_is_refused(pair):
    m = merge(pair)
    with clock.frozen(T0 + dt.timedelta(days=2)):
        services.do_undo_merge(merge=m, reason="mistake")
        with pytest.raises(ValidationFailed) as err:
            services.do_undo_merge(merge=m, reason="again")
    assert err.value.code == "merge_already_undone"


def test_undo_refused_when_the_phone_was_taken_meanwhile(pair):
    _survivor, absorbed, _ = pair
    m = merge(pair)
    make_member("新人", phone=absorbed.phone)
    with clock.frozen(T0 + dt.timedelta(days=2)), pytest.raises(Conflict) as err:
        services.do_undo_merge(merge=m, reason="mistake")
    assert err.value.code == "phone_taken"
    assert MemberMerge.objects.get(pk=m.pk).undone_at is None


def test_merge_when_absorbed_referred_the_survivor_does_not_make_a_self_referral(store):
    absorbed = make_member("甲", phone="13800000010")
    survivor = make_member("甲", phone="13800000011", referrer=absorbed)
    services.do_merge_members(survivor=survivor, absorbed=absorbed, reason="same")
    survivor.refresh_from_db()
    assert survivor.referrer_id != survivor.pk
