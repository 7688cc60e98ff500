"""Member services: entry routes, phones, consent, attributes, tags, status, transactions, QR tokens."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import signing
from django.test import override_settings
from tests.factories import make_member, make_sale, make_store

from patron.core import clock
from patron.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from patron.core.models import AuditEntry
from patron.members import queries, services
from patron.members.models import (
    ConsentRecord,
    Member,
    MemberAttribute,
    MemberStatus,
    MemberTag,
    TimelineEntry,
    Transaction,
)
from patron.members.phones import mask_phone, national_digits, normalize_phone

pytestmark = pytest.mark.django_db


def patron_settings(**overrides):
    from django.conf import settings

    return override_settings(PATRON={**settings.PATRON, **overrides})


def kinds(member):
    return list(TimelineEntry.objects.filter(member=member).order_by("at", "id").values_list("kind", flat=True))


# --------------------------------------------------------------------------- entry thresholds


def test_open_entry_makes_an_active_member_with_a_valid_member_number():
    from patron.members.numbers import is_valid_member_no

    member = make_member()
    assert member.status == MemberStatus.ACTIVE
    assert member.entry_route == "open"
    assert is_valid_member_no(member.member_no)
    assert kinds(member) == ["joined"]
    assert AuditEntry.objects.filter(action="member.create", object_id=str(member.pk)).exists()


def test_create_member_stores_pinyin_keys_and_last_four_digits():
    member = make_member("张伟", phone="13812345678")
    assert (member.name_pinyin, member.name_initials) == ("zhangwei", "zw")
    assert member.phone_last4 == "5678"


def test_create_member_requires_a_name():
    with pytest.raises(ValidationFailed) as err:
        make_member("   ")
    assert err.value.fields == {"name": "required"}


def test_application_route_waits_for_approval():
    with patron_settings(ENTRY_THRESHOLD="application"):
        member = make_member()
    assert member.status == MemberStatus.PENDING
    assert list(queries.pending_applications()) == [member]
    approved = services.do_approve_application(member=member, note="looks fine")
    assert approved.status == MemberStatus.ACTIVE
    assert approved.status_reason == "looks fine"
    assert AuditEntry.objects.filter(action="member.approve", object_id=str(member.pk)).exists()
    assert list(queries.pending_applications()) == []


def test_rejecting_an_application_needs_a_reason_and_records_it():
    member = make_member(entry_route="application")
    with pytest.raises(ValidationFailed) as err:
        services.do_reject_application(member=member, reason="  ")
    assert err.value.code == "reason_required"
    rejected = services.do_reject_application(member=member, reason="duplicate person")
    assert rejected.status == MemberStatus.REJECTED
    assert rejected.status_reason == "duplicate person"
    entry = TimelineEntry.objects.filter(member=member, kind="status_changed").get()
    assert entry.data == {"old": "pending", "new": "rejected", "reason": "duplicate person"}


def test_approving_a_member_that_is_not_pending_is_refused():
    member = make_member()
    with pytest.raises(ValidationFailed) as err:
        services.do_approve_application(member=member)
    assert err.value.code == "application_not_pending"


def test_rejected_member_phone_can_sign_up_again():
    member = make_member(entry_route="application", phone="13800000001")
    services.do_reject_application(member=member, reason="no")
    again = make_member(phone="13800000001")
    assert again.status == MemberStatus.ACTIVE


def test_first_purchase_route_stays_pending_until_a_qualifying_sale(store):
    with patron_settings(ENTRY_THRESHOLD="first_purchase", ENTRY_MIN_PURCHASE="200.00"):
        member = make_member()
        assert member.status == MemberStatus.PENDING
        make_sale(member, store, amount="199.99")
        member.refresh_from_db()
        assert member.status == MemberStatus.PENDING
        make_sale(member, store, amount="200.00")
        member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE
    assert AuditEntry.objects.filter(action="member.activate", object_id=str(member.pk)).exists()


def test_fee_route_is_activated_by_recording_the_fee():
    with patron_settings(ENTRY_THRESHOLD="fee", ENTRY_FEE="99.00"):
        member = make_member()
        assert member.status == MemberStatus.PENDING
        with pytest.raises(ValidationFailed) as err:
            services.do_record_entry_fee(member=member, amount=Decimal("50.00"), currency="CNY")
        assert err.value.code == "invalid_amount"
        member = services.do_record_entry_fee(member=member, amount=Decimal("99.00"), currency="CNY")
    assert member.status == MemberStatus.ACTIVE
    assert "fee_paid" in kinds(member)


def test_entry_fee_refuses_unknown_currency_and_members_not_pending():
    member = make_member(entry_route="fee")
    with pytest.raises(ValidationFailed) as err:
        services.do_record_entry_fee(member=member, amount=Decimal("99.00"), currency="XXX")
    assert err.value.code == "unknown_currency"
    with pytest.raises(ValidationFailed) as err:
        services.do_record_entry_fee(member=make_member(), amount=Decimal("99.00"), currency="CNY")
    assert err.value.code == "application_not_pending"


def test_activation_publishes_member_activated_after_commit(django_capture_on_commit_callbacks):
    from patron.core import events as core_events
    from patron.members.events import MemberActivated, MemberJoined

    seen = []
    core_events.subscribe(MemberActivated)(seen.append)
    core_events.subscribe(MemberJoined)(seen.append)
    with django_capture_on_commit_callbacks(execute=True):
        member = make_member()
    assert [type(e) for e in seen] == [MemberJoined, MemberActivated]
    assert seen[1] == MemberActivated(member.pk, "open")
    core_events._handlers[MemberActivated].remove(seen.append)
    core_events._handlers[MemberJoined].remove(seen.append)


# --------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "raw", ["13812345678", "138 1234 5678", "+86 138-1234-5678", "+8613812345678", "008613812345678"]
)
def test_phone_forms_normalise_to_e164(raw):
    assert normalize_phone(raw) == "+8613812345678"


@pytest.mark.parametrize("raw", ["", "   ", "12345", "1381234567", "abc", "138123456789999", "+1 555"])
def test_invalid_phone_numbers_are_rejected_with_invalid_phone(raw):
    with pytest.raises(ValidationFailed) as err:
        normalize_phone(raw)
    assert err.value.code == "invalid_phone"
    assert "phone" in err.value.fields


def test_mask_and_national_digits():
    assert mask_phone("+8613812345678") == "138****5678"
    assert national_digits("+8613812345678") == "13812345678"


def test_one_live_member_per_phone_whatever_the_spelling():
    make_member(phone="13812345678")
    with pytest.raises(Conflict) as err:
        make_member(phone="+86 138-1234-5678")
    assert err.value.code == "phone_taken"
    assert err.value.status == 409
    assert Member.objects.count() == 1


@pytest.mark.parametrize("status", ["frozen"])
def test_frozen_member_still_holds_the_phone(status):
    member = make_member(phone="13812345678")
    services.do_change_status(member=member, status=status, reason="fraud check")
    with pytest.raises(Conflict):
        make_member(phone="13812345678")


def test_pending_member_holds_the_phone():
    make_member(phone="13812345678", entry_route="application")
    with pytest.raises(Conflict):
        make_member(phone="13812345678")


def test_closed_members_phone_can_be_reused():
    old = make_member(phone="13812345678")
    services.do_change_status(member=old, status="closed", reason="left")
    new = make_member(name="王芳", phone="138 1234 5678")
    assert new.phone == old.phone == "+8613812345678"
    assert new.pk != old.pk


def test_changing_phone_to_one_taken_is_refused():
    make_member(phone="13812345678")
    other = make_member(phone="13912345678")
    with pytest.raises(Conflict) as err:
        services.do_update_member(member=other, changes={"phone": "138 1234 5678"})
    assert err.value.code == "phone_taken"


def test_duplicate_card_number_is_refused():
    make_member(card_no="C001")
    with pytest.raises(Conflict) as err:
        make_member(card_no="C001")
    assert err.value.code == "card_taken"


# --------------------------------------------------------------------------- profile updates


def test_update_member_changes_fields_keys_timeline_and_audit():
    member = make_member("张伟", phone="13812345678")
    updated = services.do_update_member(
        member=member, changes={"name": "李娜", "phone": "13912345678", "city": " 北京 "}
    )
    updated.refresh_from_db()
    assert (updated.name, updated.name_pinyin, updated.name_initials) == ("李娜", "lina", "ln")
    assert (updated.phone, updated.phone_last4, updated.city) == ("+8613912345678", "5678", "北京")
    entry = TimelineEntry.objects.filter(member=member, kind="profile_changed").get()
    assert entry.data == {"fields": ["city", "name", "phone"]}
    audit = AuditEntry.objects.get(action="member.update")
    assert audit.before["name"] == "张伟"
    assert audit.after["name"] == "李娜"


def test_update_member_without_changes_writes_nothing():
    member = make_member(city="上海")
    services.do_update_member(member=member, changes={"city": "上海"})
    assert kinds(member) == ["joined"]
    assert not AuditEntry.objects.filter(action="member.update").exists()


def test_update_member_refuses_unknown_fields_and_closed_members():
    member = make_member()
    with pytest.raises(ValidationFailed):
        services.do_update_member(member=member, changes={"status": "active"})
    services.do_change_status(member=member, status="closed", reason="left")
    with pytest.raises(ValidationFailed) as err:
        services.do_update_member(member=member, changes={"city": "北京"})
    assert err.value.code == "member_not_active"


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"gender": "X"}, "gender"), ({"email": "not-an-email"}, "email"), ({"language": "fr"}, "language")],
)
def test_update_member_refuses_invalid_values(changes, field):
    member = make_member()
    with pytest.raises(ValidationFailed) as err:
        services.do_update_member(member=member, changes=changes)
    assert field in err.value.fields


def test_member_cannot_refer_themselves():
    member = make_member()
    with pytest.raises(ValidationFailed):
        services.do_update_member(member=member, changes={"referrer": member})


# --------------------------------------------------------------------------- consent


def test_consent_is_append_only_and_current_state_is_the_latest():
    member = make_member()
    t0 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    with clock.frozen(t0):
        services.do_record_consent(
            member=member, purpose="sms_marketing", granted=True, notice_version="v1", source="console"
        )
    with clock.frozen(t0 + dt.timedelta(days=1)):
        services.do_record_consent(
            member=member, purpose="sms_marketing", granted=False, notice_version="v2", source="portal"
        )
    records = ConsentRecord.objects.filter(member=member, purpose="sms_marketing").order_by("at")
    assert [(r.granted, r.notice_version, r.source) for r in records] == [
        (True, "v1", "console"),
        (False, "v2", "portal"),
    ]
    state = queries.current_consent_state(member)
    assert state["sms_marketing"].granted is False
    assert state["sms_marketing"].notice_version == "v2"
    assert not services.has_consent(member, "sms_marketing")
    assert kinds(member).count("consent") == 2


def test_consent_in_the_same_instant_latest_record_wins():
    member = make_member()
    with clock.frozen(dt.datetime(2026, 3, 1, tzinfo=dt.UTC)):
        services.do_record_consent(member=member, purpose="terms", granted=False, notice_version="v1", source="api")
        services.do_record_consent(member=member, purpose="terms", granted=True, notice_version="v1", source="api")
    assert queries.current_consent_state(member)["terms"].granted is True
    assert services.has_consent(member, "terms")


def test_unknown_consent_purpose_is_refused():
    with pytest.raises(ValidationFailed) as err:
        services.do_record_consent(
            member=make_member(), purpose="telepathy", granted=True, notice_version="v1", source="api"
        )
    assert "purpose" in err.value.fields


def test_sign_up_records_its_consents():
    member = make_member(consents={"terms": True, "sms_marketing": False}, notice_version="2026-02")
    state = queries.current_consent_state(member)
    assert {p: r.granted for p, r in state.items()} == {"terms": True, "sms_marketing": False}
    assert state["terms"].notice_version == "2026-02"


# --------------------------------------------------------------------------- attributes


@pytest.fixture
def attributes(db):
    return {
        "kids": services.do_define_attribute(key="kids", label="孩子数", label_en="Kids", type="integer"),
        "height": services.do_define_attribute(key="height", label="身高", label_en="Height", type="decimal"),
        "car": services.do_define_attribute(key="car", label="有车", label_en="Car owner", type="boolean"),
        "since": services.do_define_attribute(key="since", label="开始", label_en="Since", type="date"),
        "size": services.do_define_attribute(
            key="size", label="尺码", label_en="Size", type="choice", choices=["S", "M", "L"]
        ),
        "health": services.do_define_attribute(
            key="health", label="健康", label_en="Health", type="text", sensitive=True
        ),
    }


def test_attributes_are_coerced_to_their_types(attributes):
    member = make_member()
    services.do_set_attributes(
        member=member, values={"kids": "2", "height": "1.75", "car": "是", "since": "2020-05-01", "size": "M"}
    )
    values = dict(MemberAttribute.objects.filter(member=member).values_list("definition__key", "value"))
    assert values == {"kids": 2, "height": "1.75", "car": True, "since": "2020-05-01", "size": "M"}
    assert "attributes_changed" in kinds(member)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kids", "two"),
        ("kids", "1.5"),
        ("kids", 1.5),
        ("kids", True),
        ("kids", [1]),
        ("kids", float("inf")),
        ("height", "tall"),
        ("height", "NaN"),
        ("height", "Infinity"),
        ("car", "maybe"),
        ("since", "2020-13-01"),
        ("since", "1st May"),
        ("size", "XXL"),
        ("size", {"a": 1}),
    ],
)
def test_attribute_values_that_do_not_fit_the_type_are_refused(attributes, key, value):
    member = make_member()
    with pytest.raises(ValidationFailed) as err:
        services.do_set_attributes(member=member, values={key: value})
    assert err.value.code == "invalid_attribute"
    assert key in err.value.fields
    assert not MemberAttribute.objects.filter(member=member).exists()


def test_unknown_attribute_is_refused(attributes):
    with pytest.raises(ValidationFailed) as err:
        services.do_set_attributes(member=make_member(), values={"shoe": "42"})
    assert err.value.code == "unknown_attribute"


def test_sensitive_attribute_needs_consent(attributes):
    member = make_member()
    with pytest.raises(ValidationFailed) as err:
        services.do_set_attributes(member=member, values={"health": "asthma"})
    assert err.value.code == "consent_required"
    services.do_record_consent(member=member, purpose="sensitive", granted=True, notice_version="v1", source="console")
    services.do_set_attributes(member=member, values={"health": "asthma"})
    assert MemberAttribute.objects.get(member=member, definition__key="health").value == "asthma"


def test_sensitive_attribute_refused_after_consent_is_withdrawn(attributes):
    member = make_member(consents={"sensitive": True})
    services.do_record_consent(member=member, purpose="sensitive", granted=False, notice_version="v1", source="portal")
    with pytest.raises(ValidationFailed) as err:
        services.do_set_attributes(member=member, values={"health": "asthma"})
    assert err.value.code == "consent_required"


def test_empty_value_clears_an_attribute(attributes):
    member = make_member(attributes={"kids": 3})
    assert MemberAttribute.objects.filter(member=member).count() == 1
    services.do_set_attributes(member=member, values={"kids": ""})
    assert not MemberAttribute.objects.filter(member=member).exists()


def test_defining_a_choice_attribute_needs_choices_and_a_known_type():
    with pytest.raises(ValidationFailed):
        services.do_define_attribute(key="c", label="c", label_en="c", type="choice")
    with pytest.raises(ValidationFailed):
        services.do_define_attribute(key="c", label="c", label_en="c", type="colour")


# --------------------------------------------------------------------------- tags


def test_tagging_records_source_time_and_actor_once():
    member = make_member()
    at = dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)
    with clock.frozen(at):
        link = services.do_tag_member(member=member, tag_name=" VIP ", source="event")
    assert (link.tag.name, link.source, link.tagged_at, link.actor_label) == ("VIP", "event", at, "system")
    again = services.do_tag_member(member=member, tag_name="VIP", source="api")
    assert again.pk == link.pk
    assert MemberTag.objects.filter(member=member).count() == 1
    assert kinds(member).count("tagged") == 1


def test_untagging_removes_the_tag_and_writes_the_timeline():
    member = make_member()
    services.do_tag_member(member=member, tag_name="VIP")
    services.do_untag_member(member=member, tag_name="VIP")
    services.do_untag_member(member=member, tag_name="VIP")  # nothing left: no second row
    assert not MemberTag.objects.filter(member=member).exists()
    assert kinds(member) == ["joined", "tagged", "untagged"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 51])
def test_tag_names_must_be_one_to_fifty_characters(name):
    with pytest.raises(ValidationFailed):
        services.do_tag_member(member=make_member(), tag_name=name)


def test_tag_source_must_be_known():
    with pytest.raises(ValidationFailed):
        services.do_tag_member(member=make_member(), tag_name="VIP", source="gossip")


# --------------------------------------------------------------------------- status


def test_freeze_unfreeze_close_each_write_timeline_and_audit():
    member = make_member()
    services.do_change_status(member=member, status="frozen", reason="card stolen")
    services.do_change_status(member=member, status="active", reason="card replaced")
    services.do_change_status(member=member, status="closed", reason="member asked")
    member.refresh_from_db()
    assert member.status == MemberStatus.CLOSED
    assert member.status_reason == "member asked"
    changes = TimelineEntry.objects.filter(member=member, kind="status_changed").order_by("at", "id")
    assert [(e.data["old"], e.data["new"]) for e in changes] == [
        ("active", "frozen"),
        ("frozen", "active"),
        ("active", "closed"),
    ]
    assert AuditEntry.objects.filter(action="member.status", object_id=str(member.pk)).count() == 3


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("active", "active"),
        ("active", "pending"),
        ("active", "merged"),
        ("closed", "active"),
        ("closed", "frozen"),
        ("pending", "frozen"),
        ("active", "rejected"),
    ],
)
def test_invalid_status_moves_are_refused(start, target):
    member = make_member(entry_route="application" if start == "pending" else None)
    if start == "closed":
        services.do_change_status(member=member, status="closed", reason="left")
    with pytest.raises(ValidationFailed) as err:
        services.do_change_status(member=member, status=target, reason="try")
    assert err.value.code == "invalid_status_change"


def test_unknown_status_is_refused_not_crashed():
    with pytest.raises(ValidationFailed) as err:
        services.do_change_status(member=make_member(), status="sleeping", reason="try")
    assert err.value.code == "invalid_status_change"


def test_status_change_needs_a_reason():
    with pytest.raises(ValidationFailed) as err:
        services.do_change_status(member=make_member(), status="frozen", reason=" ")
    assert err.value.code == "reason_required"


def test_reveal_phone_needs_a_reason_and_is_audited():
    member = make_member(phone="13812345678")
    with pytest.raises(ValidationFailed):
        services.do_reveal_phone(member=member, reason="")
    assert services.do_reveal_phone(member=member, reason="caller verification") == "+8613812345678"
    row = AuditEntry.objects.get(action="member.reveal_phone")
    assert (row.object_id, row.reason) == (str(member.pk), "caller verification")


# --------------------------------------------------------------------------- transactions


def test_sale_is_recorded_with_lines_timeline_and_event(store, django_capture_on_commit_callbacks):
    member = make_member()
    with django_capture_on_commit_callbacks() as callbacks:
        txn, created = services.do_record_sale(
            data=services.SaleInput(
                store=store,
                member=member,
                external_id="R1",
                occurred_at=clock.now(),
                amount=Decimal("88.50"),
                currency="CNY",
                lines=[services.LineInput(sku="A", quantity=Decimal("2"), amount=Decimal("88.50"))],
            )
        )
    assert created
    assert (txn.kind, txn.amount, txn.currency) == ("sale", Decimal("88.50"), "CNY")
    assert txn.lines.get().sku == "A"
    assert TimelineEntry.objects.get(member=member, kind="sale").data["amount"] == "88.50"
    assert len(callbacks) == 1


def test_partial_then_full_refund_of_what_is_left(store):
    sale = make_sale(make_member(), store, amount="100.00")
    r1, created = services.do_record_refund(
        original=sale, external_id="RF1", amount=Decimal("30.00"), occurred_at=clock.now()
    )
    assert created and (r1.kind, r1.amount, r1.original_id) == ("refund", Decimal("30.00"), sale.pk)
    r2, _ = services.do_record_refund(
        original=sale, external_id="RF2", amount=Decimal("70.00"), occurred_at=clock.now()
    )
    assert services.refunded_so_far(sale) == Decimal("100.00")
    assert r2.member_id == sale.member_id
    assert kinds(sale.member).count("refund") == 2


def test_refund_rejected_when_more_than_remaining(store):
    sale = make_sale(make_member(), store, amount="100.00")
    services.do_record_refund(original=sale, external_id="RF1", amount=Decimal("60.00"), occurred_at=clock.now())
    with pytest.raises(ValidationFailed) as err:
        services.do_record_refund(original=sale, external_id="RF2", amount=Decimal("40.01"), occurred_at=clock.now())
    assert err.value.code == "refund_exceeds_sale"
    assert services.refunded_so_far(sale) == Decimal("60.00")


def test_refund_of_a_refund_is_refused(store):
    sale = make_sale(make_member(), store, amount="100.00")
    refund, _ = services.do_record_refund(
        original=sale, external_id="RF1", amount=Decimal("10"), occurred_at=clock.now()
    )
    with pytest.raises(ValidationFailed):
        services.do_record_refund(original=refund, external_id="RF2", amount=Decimal("1"), occurred_at=clock.now())


def test_refund_replay_with_same_external_id_returns_the_first(store):
    sale = make_sale(make_member(), store, amount="100.00")
    first, created = services.do_record_refund(
        original=sale, external_id="RF1", amount=Decimal("10"), occurred_at=clock.now()
    )
    again, created_again = services.do_record_refund(
        original=sale, external_id="RF1", amount=Decimal("10"), occurred_at=clock.now()
    )
    assert created and not created_again
    assert again.pk == first.pk


def test_refund_reusing_a_sales_external_id_is_a_conflict(store):
    member = make_member()
    sale = make_sale(member, store, amount="100.00", external_id="S1")
    with pytest.raises(Conflict) as err:
        services.do_record_refund(original=sale, external_id="S1", amount=Decimal("100.00"), occurred_at=clock.now())
    assert err.value.code == "duplicate_transaction"
    assert services.refunded_so_far(sale) == Decimal("0")


def test_same_external_id_with_same_details_returns_the_first(store):
    member = make_member()
    at = clock.now()
    first = make_sale(member, store, amount="50.00", external_id="X1", occurred_at=at)
    txn, created = services.do_record_sale(
        data=services.SaleInput(
            store=store, member=member, external_id="X1", occurred_at=at, amount=Decimal("50.00"), currency="CNY"
        )
    )
    assert not created
    assert txn.pk == first.pk
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize("change", [{"amount": Decimal("51.00")}, {"currency": "HKD"}, {"member": "other"}])
def test_same_external_id_with_different_details_is_duplicate_transaction(store, change):
    member = make_member()
    make_sale(member, store, amount="50.00", external_id="X1")
    if change.get("member") == "other":
        change = {"member": make_member()}
    data = services.SaleInput(
        **{
            "store": store,
            "member": member,
            "external_id": "X1",
            "occurred_at": clock.now(),
            "amount": Decimal("50.00"),
            "currency": "CNY",
            **change,
        }
    )
    with pytest.raises(Conflict) as err:
        services.do_record_sale(data=data)
    assert err.value.code == "duplicate_transaction"
    assert err.value.status == 409


def test_same_external_id_at_another_store_is_another_sale(store):
    member = make_member()
    make_sale(member, store, external_id="X1")
    make_sale(member, make_store(), external_id="X1")
    assert Transaction.objects.count() == 2


def test_frozen_member_cannot_transact(store):
    member = make_member()
    services.do_change_status(member=member, status="frozen", reason="check")
    with pytest.raises(ValidationFailed) as err:
        make_sale(member, store)
    assert err.value.code == "member_frozen"


def test_closed_member_cannot_transact(store):
    member = make_member()
    services.do_change_status(member=member, status="closed", reason="left")
    with pytest.raises(ValidationFailed) as err:
        make_sale(member, store)
    assert err.value.code == "member_not_active"


@pytest.mark.parametrize("amount", ["0", "-1.00", "0.001", "1000000000000", "NaN", "Infinity", "abc"])
def test_sale_amounts_must_be_positive_with_two_decimals(store, amount):
    with pytest.raises(ValidationFailed) as err:
        services.do_record_sale(
            data=services.SaleInput(
                store=store,
                member=make_member(),
                external_id="A",
                occurred_at=clock.now(),
                amount=amount,
                currency="CNY",
            )
        )
    assert err.value.code == "invalid_amount"


def test_sale_amount_with_trailing_zeros_is_accepted(store):
    txn = make_sale(make_member(), store, amount="12.500")
    assert txn.amount == Decimal("12.50")


def test_sale_refuses_unknown_currency_naive_and_future_times(store):
    member = make_member()
    base = {
        "store": store,
        "member": member,
        "external_id": "A",
        "amount": Decimal("1"),
        "currency": "CNY",
        "occurred_at": clock.now(),
    }
    with pytest.raises(ValidationFailed) as err:
        services.do_record_sale(data=services.SaleInput(**{**base, "currency": "XYZ"}))
    assert err.value.code == "unknown_currency"
    with pytest.raises(ValidationFailed) as err:
        services.do_record_sale(data=services.SaleInput(**{**base, "occurred_at": dt.datetime(2026, 1, 1)}))
    assert "occurred_at" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        services.do_record_sale(data=services.SaleInput(**{**base, "occurred_at": clock.now() + dt.timedelta(hours=1)}))
    assert "occurred_at" in err.value.fields


def test_sale_time_is_stored_in_utc(store):
    at = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    txn = make_sale(make_member(), store, occurred_at=at)
    txn.refresh_from_db()
    assert txn.occurred_at == at
    assert txn.occurred_at.utcoffset() == dt.timedelta(0)


def test_cashier_may_record_only_for_their_own_store(staff, store):
    cashier = staff("cashier")
    services.check_store_allowed(cashier, store)
    with pytest.raises(DomainError) as err:
        services.check_store_allowed(cashier, make_store())
    assert err.value.code == "store_not_allowed"
    services.check_store_allowed(staff("admin"), make_store())


# --------------------------------------------------------------------------- QR tokens


def test_qr_token_identifies_the_member():
    member = make_member()
    assert services.member_from_qr_token(services.issue_qr_token(member)) == member


def test_tampered_qr_token_is_invalid():
    token = services.issue_qr_token(make_member())
    with pytest.raises(ValidationFailed) as err:
        services.member_from_qr_token(token[:-2] + "xx")
    assert err.value.code == "invalid_token"


def test_qr_token_expires():
    member = make_member()
    old = signing.TimestampSigner(salt=services.QR_SALT)
    old.timestamp = lambda: signing.b62_encode(int(__import__("time").time()) - 121)  # type: ignore[method-assign]
    token = old.sign(member.member_no)
    with pytest.raises(ValidationFailed) as err:
        services.member_from_qr_token(token)
    assert err.value.code == "invalid_token"
    with patron_settings(QR_TOKEN_SECONDS=600):
        assert services.member_from_qr_token(token) == member


def test_qr_token_of_a_member_that_is_gone_is_not_found():
    member = make_member()
    token = services.issue_qr_token(member)
    Member.objects.filter(pk=member.pk).update(member_no="0000000000")
    with pytest.raises(NotFound):
        services.member_from_qr_token(token)


# --------------------------------------------------------------------------- stores and staff


def test_store_codes_are_unique_and_uppercased():
    s = make_store(code="bj01")
    assert s.code == "BJ01"
    with pytest.raises(Conflict):
        make_store(code="BJ01")


def test_update_store_refuses_unknown_fields(store):
    services.do_update_store(store=store, name=" 新名字 ")
    assert store.name == "新名字"
    with pytest.raises(ValidationFailed):
        services.do_update_store(store=store, code="X")


def test_staff_creation_rules(store):
    with pytest.raises(ValidationFailed):
        services.do_create_staff(username="c1", password="pw-long-enough", role="cashier")
    with pytest.raises(ValidationFailed):
        services.do_create_staff(username="c1", password="pw-long-enough", role="wizard")
    user = services.do_create_staff(username="c1", password="pw-long-enough", role="cashier", store=store)
    assert queries.staff_store(user) == store
    with pytest.raises(Conflict):
        services.do_create_staff(username="c1", password="pw-long-enough", role="agent")
    services.do_update_staff(user=user, role="agent")
    assert queries.staff_store(user) is None
    with pytest.raises(ValidationFailed):
        services.do_update_staff(user=user, role="cashier")


def test_member_360_totals_net_of_refunds(store):
    member = make_member()
    sale = make_sale(member, store, amount="100.00")
    services.do_record_refund(original=sale, external_id="RF", amount=Decimal("25.00"), occurred_at=clock.now())
    view = queries.member_360(member)
    assert view.totals["purchases"] == 1
    assert view.totals["spend"] == {"CNY": "75.00"}
    assert view.phone_masked == mask_phone(member.phone)


def test_dashboard_counts_live_members(store):
    make_member(store=store)
    pending = make_member(entry_route="application")
    closed = make_member()
    services.do_change_status(member=closed, status="closed", reason="left")
    counts = queries.dashboard_counts()
    assert (counts["members"], counts["active"], counts["pending"]) == (2, 1, 1)
    assert counts["new_this_month"] == 2
    assert pending.pk


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"gender": "X"}, "gender"),
        ({"language": "fr"}, "language"),
        ({"birthday": dt.date(2999, 1, 1)}, "birthday"),
        ({"birthday": "1990-01-01"}, "birthday"),
        ({"join_channel": "pigeon"}, "join_channel"),
    ],
)
def test_sign_up_refuses_invalid_profile_values(kw, field):
    with pytest.raises(ValidationFailed) as err:
        make_member(**kw)
    assert field in err.value.fields
    assert not Member.objects.exists()


def test_sign_up_refuses_unknown_entry_route():
    with pytest.raises(ValidationFailed):
        make_member(entry_route="lottery")


def test_update_member_none_for_a_text_field_clears_it():
    member = make_member(city="上海")
    services.do_update_member(member=member, changes={"city": None})
    member.refresh_from_db()
    assert member.city == ""


def test_qr_token_of_a_merged_member_identifies_the_survivor():
    survivor, absorbed = make_member(), make_member()
    token = services.issue_qr_token(absorbed)
    services.do_merge_members(survivor=survivor, absorbed=absorbed, reason="same person")
    assert services.member_from_qr_token(token) == survivor
