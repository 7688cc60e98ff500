"""Erasure at the member's request: personal data goes, facts stay, nothing more is sent."""

from __future__ import annotations

import pytest
from django.urls import reverse
from tests.factories import make_member, make_sale

from patron.core.errors import ValidationFailed
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.members import services
from patron.members.models import ConsentRecord, MemberAttribute, MemberStatus, MemberTag, Transaction
from patron.members.queries import current_consent_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(store):
    member = make_member(
        name="王芳",
        phone="+8613812345678",
        email="wf@example.com",
        card_no="C-1001",
        store=store,
        consents={"terms": True, "sms_marketing": True, "sensitive": True},
    )
    services.do_define_attribute(key="car", label="车主", label_en="Car owner", type="boolean")
    services.do_set_attributes(member=member, values={"car": True})
    services.do_tag_member(member=member, tag_name="宝妈", source="agent")
    make_sale(member, store, amount="120.00")
    return member


def test_erase_removes_personal_data_and_keeps_the_facts(person):
    services.do_erase_member(member=person, reason="会员申请注销")
    person.refresh_from_db()
    assert person.status == MemberStatus.ERASED
    assert (person.name, person.phone, person.email, person.card_no, person.birthday) == (
        person.member_no,
        "",
        "",
        None,
        None,
    )
    assert person.name_pinyin == person.phone_last4 == ""
    assert not MemberAttribute.objects.filter(member=person).exists()
    assert not MemberTag.objects.filter(member=person).exists()
    assert Transaction.objects.filter(member=person).count() == 1
    assert all(not record.granted for record in current_consent_state(person).values())
    assert ConsentRecord.objects.filter(member=person, granted=True).count() == 3  # history kept


def test_erase_audit_row_holds_no_personal_data(person):
    services.do_erase_member(member=person, reason="会员申请注销")
    entry = AuditEntry.objects.get(action="member.erase")
    assert "13812345678" not in str(entry.before) + str(entry.after)
    assert entry.reason == "会员申请注销"


def test_erased_phone_can_join_again(person):
    services.do_erase_member(member=person, reason="会员申请注销")
    again = make_member(name="王芳", phone="+8613812345678")
    assert again.status == MemberStatus.ACTIVE


def test_erase_needs_a_reason_and_happens_once(person):
    with pytest.raises(ValidationFailed):
        services.do_erase_member(member=person, reason=" ")
    services.do_erase_member(member=person, reason="会员申请注销")
    with pytest.raises(ValidationFailed) as refused:
        services.do_erase_member(member=person, reason="again")
    assert refused.value.code == "invalid_status_change"


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_only_admins_may_erase_from_the_console(client, staff, person, role):
    client.force_login(staff(role))
    response = client.post(reverse("members:erase", args=[person.pk]), {"erase-reason": "会员申请注销"})
    person.refresh_from_db()
    if Role(role) in roles_with(Perm.MEMBERS_ERASE):
        assert response.status_code == 302
        assert person.status == MemberStatus.ERASED
    else:
        assert response.status_code == 403
        assert person.status == MemberStatus.ACTIVE
        assert person.phone == "+8613812345678"


def test_admin_role_gets_django_admin_to_browse_without_phones(client, staff, person):
    client.force_login(staff("admin"))
    assert client.get("/admin/members/member/").status_code == 200
    page = client.get(f"/admin/members/member/{person.pk}/change/")
    assert page.status_code == 200
    assert "13812345678" not in page.content.decode()
    client.force_login(staff("supervisor"))
    assert client.get("/admin/members/member/").status_code == 302
