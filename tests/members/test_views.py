"""Console pages of the member registry: every page walked by every role, then what the pages do."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from tests.factories import make_member, make_sale, make_staff, make_store
from tests.roles import Case, url_of, walk, walk_anonymous

from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role
from patron.members import services
from patron.members.models import (
    AttributeDefinition,
    ConsentRecord,
    Member,
    MemberAttribute,
    MemberMerge,
    MemberStatus,
    MemberTag,
    TimelineEntry,
    Transaction,
)
from patron.members.phones import mask_phone, national_digits
from patron.members.views import TIMELINE_SENTENCES, timeline_sentence

pytestmark = pytest.mark.django_db
ALL_ROLES = [r.value for r in Role]


@pytest.fixture
def world(store):
    member = make_member(name="张伟", store=store, city="上海")
    services.do_tag_member(member=member, tag_name="vip")
    return SimpleNamespace(
        store=store,
        member=member,
        other=make_member(name="李娜", store=store),
        pending=make_member(name="王芳", store=store, entry_route="application"),
        sale=make_sale(member, store, amount="100.00"),
        attribute=services.do_define_attribute(key="car_owner", label="车主", label_en="Car owner", type="boolean"),
        colleague=make_staff("agent", username="colleague"),
    )


def _merged_duplicate(w: SimpleNamespace) -> MemberMerge:
    dup = make_member(name="张伟", store=w.store)
    make_sale(dup, w.store, amount="30.00")
    return services.do_merge_members(survivor=w.member, absorbed=dup, reason="same person")


def _member(w: SimpleNamespace, attr: str = "member") -> Member:
    return Member.objects.get(pk=getattr(w, attr).pk)


MEMBER_FORM = {"name": "赵敏", "phone": "13912345678", "gender": "F", "language": "zh-hans", "join_channel": "store"}

CASES = [
    Case("list", Perm.MEMBERS_VIEW, url_of("members:list")),
    Case("detail", Perm.MEMBERS_VIEW, url_of("members:detail", "member")),
    Case("create page", Perm.MEMBERS_CREATE, url_of("members:create")),
    Case(
        "create",
        Perm.MEMBERS_CREATE,
        url_of("members:create"),
        lambda w: {**MEMBER_FORM, "store": w.store.pk, "consent_terms": "on"},
        lambda w: Member.objects.filter(name="赵敏").exists(),
    ),
    Case("edit page", Perm.MEMBERS_EDIT, url_of("members:edit", "member")),
    Case(
        "edit",
        Perm.MEMBERS_EDIT,
        url_of("members:edit", "member"),
        lambda w: {"name": "张伟", "gender": "M", "language": "zh-hans", "city": "北京"},
        lambda w: _member(w).city == "北京",
    ),
    Case(
        "reveal phone",
        Perm.MEMBERS_REVEAL,
        url_of("members:reveal_phone", "member"),
        lambda w: {"reason": "calling back"},
        lambda w: AuditEntry.objects.filter(action="member.reveal_phone").exists(),
        status=200,
    ),
    Case(
        "change status",
        Perm.MEMBERS_STATUS,
        url_of("members:change_status", "member"),
        lambda w: {"status": "frozen", "reason": "card lost"},
        lambda w: _member(w).status == MemberStatus.FROZEN,
    ),
    Case(
        "add tag",
        Perm.MEMBERS_TAG,
        url_of("members:add_tag", "member"),
        lambda w: {"tag": "骑行"},
        lambda w: MemberTag.objects.filter(member=w.member, tag__name="骑行").exists(),
    ),
    Case(
        "remove tag",
        Perm.MEMBERS_TAG,
        url_of("members:remove_tag", "member"),
        lambda w: {"tag": "vip"},
        lambda w: not MemberTag.objects.filter(member=w.member, tag__name="vip").exists(),
    ),
    Case(
        "edit attributes",
        Perm.MEMBERS_EDIT,
        url_of("members:edit_attributes", "member"),
        lambda w: {"car_owner": "yes"},
        lambda w: MemberAttribute.objects.filter(member=w.member, value=True).exists(),
    ),
    Case(
        "record consent",
        Perm.MEMBERS_CONSENT,
        url_of("members:record_consent", "member"),
        lambda w: {"purpose": "sms_marketing", "granted": "1", "notice_version": "2026-01"},
        lambda w: ConsentRecord.objects.filter(member=w.member, purpose="sms_marketing", granted=True).exists(),
    ),
    Case("merge page", Perm.MEMBERS_MERGE, url_of("members:merge", "member")),
    Case(
        "merge",
        Perm.MEMBERS_MERGE,
        url_of("members:merge", "member"),
        lambda w: {"member_no": w.other.member_no, "reason": "same person"},
        lambda w: _member(w, "other").status == MemberStatus.MERGED,
    ),
    Case(
        "undo merge",
        Perm.MEMBERS_UNMERGE,
        lambda w: reverse("members:merge_undo", args=[_merged_duplicate(w).pk]),
        lambda w: {"reason": "not the same person"},
        lambda w: MemberMerge.objects.filter(undone_at__isnull=False).exists(),
    ),
    Case("applications", Perm.MEMBERS_APPROVE, url_of("members:applications")),
    Case(
        "approve",
        Perm.MEMBERS_APPROVE,
        url_of("members:application_approve", "pending"),
        lambda w: {},
        lambda w: _member(w, "pending").status == MemberStatus.ACTIVE,
    ),
    Case(
        "reject",
        Perm.MEMBERS_APPROVE,
        url_of("members:application_reject", "pending"),
        lambda w: {"reason": "incomplete"},
        lambda w: _member(w, "pending").status == MemberStatus.REJECTED,
    ),
    Case("sale page", Perm.TRANSACTIONS_RECORD, url_of("members:record_sale", "member")),
    Case(
        "record sale",
        Perm.TRANSACTIONS_RECORD,
        url_of("members:record_sale", "member"),
        lambda w: {"store": w.store.pk, "external_id": "R-1", "amount": "88.00", "currency": "CNY", "channel": "store"},
        lambda w: Transaction.objects.filter(external_id="R-1").exists(),
    ),
    Case("refund page", Perm.TRANSACTIONS_RECORD, url_of("members:refund", "sale")),
    Case(
        "refund",
        Perm.TRANSACTIONS_RECORD,
        url_of("members:refund", "sale"),
        lambda w: {"external_id": "RF-1", "amount": "40.00"},
        lambda w: Transaction.objects.filter(external_id="RF-1", kind="refund").exists(),
    ),
    Case("stores", Perm.STORES_MANAGE, url_of("members:store_list")),
    Case("store page", Perm.STORES_MANAGE, url_of("members:store_create")),
    Case(
        "create store",
        Perm.STORES_MANAGE,
        url_of("members:store_create"),
        lambda w: {"code": "BJ001", "name": "北京国贸店", "city": "北京"},
        lambda w: w.store.__class__.objects.filter(code="BJ001").exists(),
    ),
    Case("store edit page", Perm.STORES_MANAGE, url_of("members:store_edit", "store")),
    Case(
        "edit store",
        Perm.STORES_MANAGE,
        url_of("members:store_edit", "store"),
        lambda w: {"name": "上海新天地店", "city": "上海", "is_active": "on"},
        lambda w: w.store.__class__.objects.get(pk=w.store.pk).name == "上海新天地店",
    ),
    Case("staff", Perm.STAFF_MANAGE, url_of("members:staff_list")),
    Case("staff page", Perm.STAFF_MANAGE, url_of("members:staff_create")),
    Case(
        "create staff",
        Perm.STAFF_MANAGE,
        url_of("members:staff_create"),
        lambda w: {"username": "newhire", "role": "agent", "password": "a-long-password-1"},
        lambda w: get_user_model().objects.filter(username="newhire").exists(),
    ),
    Case("staff edit page", Perm.STAFF_MANAGE, url_of("members:staff_edit", "colleague")),
    Case(
        "edit staff",
        Perm.STAFF_MANAGE,
        url_of("members:staff_edit", "colleague"),
        lambda w: {"display_name": "Team lead", "role": "supervisor", "is_active": "on"},
        lambda w: get_user_model().objects.get(pk=w.colleague.pk).role == "supervisor",
    ),
    Case("profile fields", Perm.SETTINGS_MANAGE, url_of("members:attribute_list")),
    Case(
        "define field",
        Perm.SETTINGS_MANAGE,
        url_of("members:attribute_list"),
        lambda w: {"key": "pet", "label": "宠物", "label_en": "Pet", "type": "choice", "choices": "猫，狗"},
        lambda w: AttributeDefinition.objects.filter(key="pet", choices=["猫", "狗"]).exists(),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_only_for_roles_with_its_permission(client, staff, world, role, case):
    walk(client, staff(role), role, case, world)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_anonymous_goes_to_login_and_changes_nothing(client, world, case):
    walk_anonymous(client, case, world)


# --------------------------------------------------------------------------- list


@pytest.mark.parametrize("query", ["zhangwei", "zw", "ZhangWei", "张", "tag:vip"])
def test_search_finds_the_member_by_pinyin_initials_name_and_tag(client, staff, world, query):
    client.force_login(staff("marketer"))
    response = client.get(reverse("members:list"), {"q": query})
    found = [m.pk for m in response.context["page"].items]
    assert found == [world.member.pk]


def test_search_by_last_four_digits_and_member_number(client, staff, world):
    client.force_login(staff("agent"))
    for query in [world.member.phone[-4:], world.member.member_no, national_digits(world.member.phone)]:
        response = client.get(reverse("members:list"), {"q": query})
        assert [m.pk for m in response.context["page"].items] == [world.member.pk], query


def test_list_filters_by_status_and_store(client, staff, world):
    elsewhere = make_member(name="周杰", store=make_store(code="GZ001", city="广州"))
    client.force_login(staff("analyst"))
    response = client.get(reverse("members:list"), {"status": "pending"})
    assert [m.pk for m in response.context["page"].items] == [world.pending.pk]
    response = client.get(reverse("members:list"), {"store": "GZ001"})
    assert [m.pk for m in response.context["page"].items] == [elsewhere.pk]


def test_list_shows_phones_masked_and_pages_without_counting(client, staff, world):
    for i in range(30):
        make_member(name=f"成员{i}", store=world.store)
    client.force_login(staff("marketer"))
    response = client.get(reverse("members:list"))
    body = response.content.decode()
    assert mask_phone(world.member.phone) not in body  # page 1 holds the newest 25
    assert "page=2" in body
    response = client.get(reverse("members:list"), {"page": "2"})
    body = response.content.decode()
    assert mask_phone(world.member.phone) in body
    assert national_digits(world.member.phone) not in body


def test_export_link_only_for_roles_that_may_export(client, staff, world):
    client.force_login(staff("agent"))
    assert 'data-testid="export"' not in client.get(reverse("members:list")).content.decode()


# --------------------------------------------------------------------------- member page


def test_member_page_masks_the_phone_for_a_marketer_and_offers_no_reveal(client, staff, world):
    client.force_login(staff("marketer"))
    body = client.get(reverse("members:detail", args=[world.member.pk])).content.decode()
    assert mask_phone(world.member.phone) in body
    assert national_digits(world.member.phone) not in body
    assert 'data-testid="reveal-form"' not in body


def test_agent_reveals_the_phone_with_a_reason_and_it_is_audited(client, staff, world):
    agent = staff("agent")
    client.force_login(agent)
    url = reverse("members:reveal_phone", args=[world.member.pk])
    response = client.post(url, {"reason": "calling back about a complaint"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert national_digits(world.member.phone) in response.content.decode()
    entry = AuditEntry.objects.get(action="member.reveal_phone")
    assert entry.actor == agent
    assert entry.object_id == str(world.member.pk)
    assert entry.reason == "calling back about a complaint"


def test_reveal_without_a_reason_shows_nothing_and_audits_nothing(client, staff, world):
    client.force_login(staff("agent"))
    url = reverse("members:reveal_phone", args=[world.member.pk])
    response = client.post(url, {"reason": "  "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-testid="error-reason"' in response.content.decode()
    assert national_digits(world.member.phone) not in response.content.decode()
    assert not AuditEntry.objects.filter(action="member.reveal_phone").exists()


def test_member_page_shows_timeline_transactions_consents_and_placeholder(client, staff, world):
    client.force_login(staff("admin"))
    response = client.get(reverse("members:detail", args=[world.member.pk]))
    body = response.content.decode()
    assert world.sale.external_id in body
    assert "Tagged “vip”." in body
    assert 'data-purpose="terms"' in body
    assert 'data-testid="sections"' in body


def test_promoter_sees_no_transactions(client, staff, world):
    client.force_login(staff("promoter"))
    body = client.get(reverse("members:detail", args=[world.member.pk])).content.decode()
    assert world.sale.external_id not in body


def test_impossible_status_change_shows_the_services_message(client, staff, world):
    client.force_login(staff("supervisor"))
    url = reverse("members:change_status", args=[world.member.pk])
    response = client.post(url, {"status": "active", "reason": "why not"})
    assert response.status_code == 422
    assert "cannot become" in response.content.decode()
    assert _member(world).status == MemberStatus.ACTIVE


def test_status_change_needs_a_reason(client, staff, world):
    client.force_login(staff("admin"))
    response = client.post(reverse("members:change_status", args=[world.member.pk]), {"status": "frozen"})
    assert response.status_code == 422
    assert _member(world).status == MemberStatus.ACTIVE


def test_sensitive_attribute_without_consent_is_refused_on_the_field(client, staff, world):
    services.do_define_attribute(
        key="child_age", label="孩子年龄", label_en="Child age", type="integer", sensitive=True
    )
    client.force_login(staff("agent"))
    response = client.post(reverse("members:edit_attributes", args=[world.member.pk]), {"child_age": "5"})
    assert response.status_code == 422
    assert 'data-testid="error-child_age"' in response.content.decode()
    assert not MemberAttribute.objects.filter(definition__key="child_age").exists()


def test_undone_merge_shows_without_undo_button(client, staff, world):
    merge = _merged_duplicate(world)
    services.do_undo_merge(merge=merge, reason="oops")
    client.force_login(staff("admin"))
    body = client.get(reverse("members:detail", args=[world.member.pk])).content.decode()
    assert 'data-testid="undo-form"' not in body


@pytest.mark.parametrize("kind", sorted(TIMELINE_SENTENCES))
def test_every_timeline_kind_reads_as_a_sentence_in_both_languages(world, kind):
    from django.utils import translation

    data = {
        "channel": "store", "route": "open", "status": "active", "fields": ["city", "phone"], "old": "active",
        "new": "frozen", "reason": "r", "purpose": "sms_marketing", "granted": True, "source": "console", "tag": "vip",
        "keys": ["car_owner"], "amount": "10.00", "currency": "CNY", "store": "SH001", "external_id": "T1",
        "absorbed": "123",
    }  # fmt: skip
    entry = TimelineEntry(member=world.member, kind=kind, data=data)
    for language in ("en", "zh-hans"):
        with translation.override(language):
            sentence = timeline_sentence(entry)
            assert sentence and sentence != kind
            assert "%(" not in sentence
    assert timeline_sentence(TimelineEntry(kind="unknown_kind", data={})) == "unknown_kind"


# --------------------------------------------------------------------------- create and edit


def test_create_with_an_invalid_phone_shows_the_error_on_the_field_and_creates_nothing(client, staff, world):
    client.force_login(staff("agent"))
    before = Member.objects.count()
    response = client.post(reverse("members:create"), {**MEMBER_FORM, "phone": "12345", "consent_terms": "on"})
    assert response.status_code == 422
    assert 'data-testid="error-phone"' in response.content.decode()
    assert "not a valid phone number" in response.content.decode()
    assert Member.objects.count() == before


def test_create_shows_a_bad_phone_and_missing_terms_together(client, staff, world):
    client.force_login(staff("agent"))
    response = client.post(reverse("members:create"), {**MEMBER_FORM, "phone": "12345"})
    assert response.status_code == 422
    body = response.content.decode()
    assert 'data-testid="error-phone"' in body and 'data-testid="error-consent_terms"' in body


def test_create_with_a_taken_phone_says_so_on_the_field(client, staff, world):
    client.force_login(staff("agent"))
    data = {**MEMBER_FORM, "phone": national_digits(world.member.phone), "consent_terms": "on"}
    response = client.post(reverse("members:create"), data)
    assert response.status_code == 422
    assert 'data-testid="error-phone"' in response.content.decode()
    assert not Member.objects.filter(name="赵敏").exists()


def test_create_explains_consents_and_records_each_decision(client, staff, world):
    promoter = staff("promoter")
    client.force_login(promoter)
    page = client.get(reverse("members:create")).content.decode()
    assert "SMS marketing" in page and "You can stop any time." in page
    data = {**MEMBER_FORM, "consent_terms": "on", "consent_sms_marketing": "on"}
    response = client.post(reverse("members:create"), data)
    member = Member.objects.get(name="赵敏")
    assert response["Location"] == reverse("members:detail", args=[member.pk])
    granted = dict(ConsentRecord.objects.filter(member=member).values_list("purpose", "granted"))
    assert granted["terms"] is True and granted["sms_marketing"] is True and granted["profiling"] is False
    assert member.promoter == promoter


def test_create_without_the_membership_terms_is_refused(client, staff, world):
    client.force_login(staff("agent"))
    response = client.post(reverse("members:create"), MEMBER_FORM)
    assert response.status_code == 422
    assert not Member.objects.filter(name="赵敏").exists()


def test_edit_keeps_the_phone_unless_a_new_one_is_typed(client, staff, world):
    client.force_login(staff("agent"))
    page = client.get(reverse("members:edit", args=[world.member.pk])).content.decode()
    assert national_digits(world.member.phone) not in page
    data = {"name": "张伟", "gender": "M", "language": "en", "phone": ""}
    client.post(reverse("members:edit", args=[world.member.pk]), data)
    assert _member(world).phone == world.member.phone
    data["phone"] = "13700001111"
    client.post(reverse("members:edit", args=[world.member.pk]), data)
    assert _member(world).phone == "+8613700001111"


# --------------------------------------------------------------------------- merge


def test_merge_then_undo_puts_the_transactions_back(client, staff, world):
    dup = make_member(name="张伟", store=world.store)
    dup_sale = make_sale(dup, world.store, amount="30.00")
    client.force_login(staff("admin"))
    response = client.post(
        reverse("members:merge", args=[world.member.pk]), {"member_no": dup.member_no, "reason": "same person"}
    )
    assert response.status_code == 302
    assert Transaction.objects.get(pk=dup_sale.pk).member_id == world.member.pk
    merge = MemberMerge.objects.get()
    body = client.get(reverse("members:detail", args=[world.member.pk])).content.decode()
    assert 'data-testid="undo-form"' in body

    response = client.post(reverse("members:merge_undo", args=[merge.pk]), {"reason": "two people after all"})
    assert response.status_code == 302
    assert Transaction.objects.get(pk=dup_sale.pk).member_id == dup.pk
    assert Transaction.objects.get(pk=world.sale.pk).member_id == world.member.pk
    assert Member.objects.get(pk=dup.pk).status == MemberStatus.ACTIVE


def test_merge_with_an_unknown_member_number_shows_an_error(client, staff, world):
    client.force_login(staff("supervisor"))
    response = client.post(reverse("members:merge", args=[world.member.pk]), {"member_no": "0000", "reason": "x"})
    assert response.status_code == 422
    assert "Member not found." in response.content.decode()


def test_undo_twice_shows_the_refusal(client, staff, world):
    merge = _merged_duplicate(world)
    services.do_undo_merge(merge=merge, reason="oops")
    client.force_login(staff("admin"))
    response = client.post(reverse("members:merge_undo", args=[merge.pk]), {"reason": "again"})
    assert response.status_code == 422
    assert "already undone" in response.content.decode()


# --------------------------------------------------------------------------- applications


def test_reject_without_a_reason_is_refused(client, staff, world):
    client.force_login(staff("supervisor"))
    response = client.post(reverse("members:application_reject", args=[world.pending.pk]), {"reason": ""})
    assert response.status_code == 422
    assert 'data-testid="application-error"' in response.content.decode()
    assert _member(world, "pending").status == MemberStatus.PENDING


def test_applications_list_only_pending_applications(client, staff, world):
    client.force_login(staff("admin"))
    response = client.get(reverse("members:applications"))
    assert [m.pk for m, _phone in response.context["rows"]] == [world.pending.pk]


# --------------------------------------------------------------------------- sales


def test_cashier_cannot_record_a_sale_for_another_store(client, staff, world):
    other_store = make_store(code="BJ002", city="北京")
    client.force_login(staff("cashier"))  # bound to world.store
    page = client.get(reverse("members:record_sale", args=[world.member.pk])).content.decode()
    assert "BJ002" not in page
    data = {"store": other_store.pk, "external_id": "X-1", "amount": "10.00", "currency": "CNY", "channel": "store"}
    response = client.post(reverse("members:record_sale", args=[world.member.pk]), data)
    assert response.status_code == 422
    assert not Transaction.objects.filter(external_id="X-1").exists()


def test_cashier_cannot_refund_another_stores_sale(client, staff, world):
    other_store = make_store(code="BJ003", city="北京")
    sale = make_sale(world.member, other_store, amount="50.00")
    client.force_login(staff("cashier"))
    response = client.post(reverse("members:refund", args=[sale.pk]), {"external_id": "RF-9", "amount": "10.00"})
    assert response.status_code == 422
    assert "your own store" in response.content.decode()
    assert not Transaction.objects.filter(external_id="RF-9").exists()


def test_supervisor_records_a_sale_with_a_generated_receipt_number(client, staff, world):
    client.force_login(staff("supervisor"))
    data = {"store": world.store.pk, "amount": "66.60", "currency": "CNY", "channel": "store"}
    response = client.post(reverse("members:record_sale", args=[world.member.pk]), data)
    assert response.status_code == 302
    txn = Transaction.objects.get(amount=Decimal("66.60"))
    assert txn.external_id.startswith("C") and txn.source == "console"


def test_sale_with_a_bad_currency_shows_the_error(client, staff, world):
    client.force_login(staff("admin"))
    data = {"store": world.store.pk, "amount": "10.00", "currency": "XXQ", "channel": "store"}
    response = client.post(reverse("members:record_sale", args=[world.member.pk]), data)
    assert response.status_code == 422
    assert 'data-testid="error-currency"' in response.content.decode()


def test_refund_larger_than_the_sale_is_refused(client, staff, world):
    client.force_login(staff("admin"))
    response = client.post(reverse("members:refund", args=[world.sale.pk]), {"amount": "150.00"})
    assert response.status_code == 422
    assert 'data-testid="error-amount"' in response.content.decode()
    assert not Transaction.objects.filter(kind="refund").exists()


# --------------------------------------------------------------------------- stores, staff, fields


def test_duplicate_store_code_is_shown_on_the_field(client, staff, world):
    client.force_login(staff("admin"))
    response = client.post(reverse("members:store_create"), {"code": "sh001", "name": "重复", "city": "上海"})
    assert response.status_code == 422
    assert 'data-testid="error-code"' in response.content.decode()


def test_cashier_account_needs_a_store(client, staff, world):
    client.force_login(staff("admin"))
    data = {"username": "till1", "role": "cashier", "password": "a-long-password-1"}
    response = client.post(reverse("members:staff_create"), data)
    assert response.status_code == 422
    assert 'data-testid="error-store"' in response.content.decode()
    assert not get_user_model().objects.filter(username="till1").exists()


def test_taken_username_is_shown_on_the_field(client, staff, world):
    client.force_login(staff("admin"))
    data = {"username": "colleague", "role": "agent", "password": "a-long-password-1"}
    response = client.post(reverse("members:staff_create"), data)
    assert response.status_code == 422
    assert 'data-testid="error-username"' in response.content.decode()


def test_export_link_keeps_the_filters_for_an_analyst(client, staff, world):
    try:
        export = reverse("members:export")
    except NoReverseMatch:
        pytest.skip("the export pages are not installed")
    client.force_login(staff("analyst"))
    body = client.get(reverse("members:list"), {"q": "zw", "page": "1"}).content.decode()
    assert f'href="{export}?q=zw"' in body


def test_choice_field_without_choices_is_refused(client, staff, world):
    client.force_login(staff("admin"))
    data = {"key": "size", "label": "尺码", "label_en": "Size", "type": "choice", "choices": ""}
    response = client.post(reverse("members:attribute_list"), data)
    assert response.status_code == 422
    assert 'data-testid="error-choices"' in response.content.decode()
    assert not AttributeDefinition.objects.filter(key="size").exists()
