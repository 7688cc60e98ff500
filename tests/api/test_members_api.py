"""Members over the API: create, read, update, search, consents, tags, identification."""

from __future__ import annotations

import pytest

from patron.members import services
from patron.members.models import ConsentRecord, Member, MemberTag
from tests.api.conftest import assert_error
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def create(api, **body):
    body = {"name": "王芳", "phone": "13812345678", **body}
    return api.post("/members", body)


def test_create_member_returns_201_with_masked_phone(api, store):
    r = create(
        api,
        store_code="SH001",
        email="wf@example.com",
        gender="F",
        city="上海",
        consents={"terms": True, "sms_marketing": False},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["phone"] == "138****5678"
    assert body["birthday"] is None
    assert (body["name"], body["store_code"], body["status"], body["gender"]) == ("王芳", "SH001", "active", "F")
    assert body["consents"] == {"terms": True, "sms_marketing": False}
    assert body["join_channel"] == "online"
    member = Member.objects.get(member_no=body["member_no"])
    assert member.phone == "+8613812345678"
    assert ConsentRecord.objects.filter(member=member, source="api").count() == 2


def test_create_member_retry_with_same_key_returns_the_first_response(api):
    first = api.post("/members", {"name": "王芳", "phone": "13812345678"}, idem="m-1")
    again = api.post("/members", {"name": "王芳", "phone": "13812345678"}, idem="m-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Member.objects.count() == 1


def test_create_member_with_taken_phone_is_409(api):
    create(api)
    assert_error(create(api, phone="+86 138-1234-5678", name="别人"), 409, "phone_taken")


@pytest.mark.parametrize("phone", ["12345", "abc", "", "+1 555 0100"])
def test_create_member_with_invalid_phone_is_422(api, phone):
    body = assert_error(create(api, phone=phone), 422, "invalid_phone")
    assert "phone" in body["fields"]


def test_create_member_with_referrer(api):
    referrer = make_member("介绍人")
    r = create(api, referrer_member_no=referrer.member_no)
    assert r.status_code == 201
    assert Member.objects.get(member_no=r.json()["member_no"]).referrer == referrer
    assert_error(create(api, phone="13912345678", referrer_member_no="0000000000"), 404, "member_not_found")


def test_create_member_with_attributes_and_sensitive_consent(api):
    services.do_define_attribute(key="kids", label="孩子", label_en="Kids", type="integer")
    services.do_define_attribute(key="health", label="健康", label_en="Health", type="text", sensitive=True)
    assert create(api, attributes={"kids": "2"}).status_code == 201
    assert_error(create(api, phone="13912345678", attributes={"health": "x"}), 422, "consent_required")
    ok = create(api, phone="13712345678", attributes={"health": "x"}, consents={"sensitive": True})
    assert ok.status_code == 201
    assert_error(create(api, phone="13612345678", attributes={"kids": [1, 2]}), 422, "invalid_attribute")
    assert_error(create(api, phone="13612345678", attributes={"nope": 1}), 422, "unknown_attribute")


def test_get_member_and_404(api):
    member = make_member("张伟")
    r = api.get(f"/members/{member.member_no}")
    assert r.status_code == 200
    assert r.json()["name"] == "张伟"
    assert_error(api.get("/members/0000000000"), 404, "member_not_found")


def test_patch_member_changes_only_what_is_sent(api):
    member = make_member("张伟", city="上海", email="zw@example.com")
    r = api.patch(f"/members/{member.member_no}", {"city": "北京"})
    assert r.status_code == 200, r.content
    assert (r.json()["city"], r.json()["email"], r.json()["name"]) == ("北京", "zw@example.com", "张伟")


def test_patch_member_attributes(api):
    services.do_define_attribute(key="kids", label="孩子", label_en="Kids", type="integer")
    member = make_member()
    assert api.patch(f"/members/{member.member_no}", {"attributes": {"kids": 3}}).status_code == 200
    assert member.attributes.get().value == 3


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"phone": "123"}, 422, "invalid_phone"),
        ({"name": None}, 422, "validation_error"),
        ({"name": ""}, 422, "validation_error"),
        ({"city": None}, 200, None),
        ({"email": "nope"}, 422, "validation_error"),
        ({"gender": "X"}, 422, "validation_error"),
        ({"gender": None}, 422, "validation_error"),
        ({"birthday": "2999-01-01"}, 422, "validation_error"),
        ({"status": "closed"}, 200, None),  # not a profile field: ignored, not written
    ],
)
def test_patch_member_bad_values_are_refused_cleanly(api, body, status, code):
    member = make_member(city="上海")
    r = api.patch(f"/members/{member.member_no}", body)
    assert r.status_code == status, r.content
    if code:
        assert_error(r, status, code)
    member.refresh_from_db()
    assert member.status == "active"


def test_patch_to_a_taken_phone_is_409(api):
    make_member(phone="13812345678")
    other = make_member(phone="13912345678")
    assert_error(api.patch(f"/members/{other.member_no}", {"phone": "13812345678"}), 409, "phone_taken")


def test_patch_unknown_member_is_404(api):
    assert_error(api.patch("/members/0000000000", {"city": "x"}), 404, "member_not_found")


def test_patch_closed_member_is_refused(api):
    member = make_member()
    services.do_change_status(member=member, status="closed", reason="left")
    assert_error(api.patch(f"/members/{member.member_no}", {"city": "x"}), 422, "member_not_active")


def test_search_members_by_name_and_pinyin_with_pages(api):
    for i in range(3):
        make_member("张伟", phone=f"1380000000{i}")
    make_member("李娜")
    r = api.get("/members?q=zw&size=2")
    assert r.status_code == 200
    body = r.json()
    assert (len(body["items"]), body["page"], body["has_next"]) == (2, 1, True)
    r2 = api.get("/members?q=zw&size=2&page=2").json()
    assert (len(r2["items"]), r2["has_next"]) == (1, False)
    assert {m["name"] for m in api.get("/members?q=李").json()["items"]} == {"李娜"}


def test_search_members_by_tag(api):
    a = make_member("张伟")
    make_member("李娜")
    services.do_tag_member(member=a, tag_name="VIP")
    assert [m["name"] for m in api.get("/members?tag=VIP").json()["items"]] == ["张伟"]
    assert [m["name"] for m in api.get("/members?q=tag:VIP").json()["items"]] == ["张伟"]


@pytest.mark.parametrize("query", ["page=0", "size=0", "size=201", "page=abc", "page=99999999999999999999999"])
def test_search_bad_paging_is_422(api, query):
    assert_error(api.get(f"/members?{query}"), 422, "validation_error")


def test_search_far_page_is_empty(api):
    make_member()
    r = api.get("/members?page=1000000")
    assert r.status_code == 200
    assert r.json() == {"items": [], "page": 1000000, "has_next": False}


def test_record_consent_appends_and_shows_current_state(api):
    member = make_member()
    url = f"/members/{member.member_no}/consents"
    r = api.post(url, {"purpose": "sms_marketing", "granted": True, "notice_version": "v1"})
    assert r.status_code == 201
    assert r.json()["consents"] == {"sms_marketing": True}
    r = api.post(url, {"purpose": "sms_marketing", "granted": False, "notice_version": "v2"})
    assert r.json()["consents"] == {"sms_marketing": False}
    assert ConsentRecord.objects.filter(member=member).count() == 2
    assert_error(
        api.post(url, {"purpose": "mind_reading", "granted": True, "notice_version": "v1"}), 422, "validation_error"
    )
    assert_error(
        api.post("/members/0000000000/consents", {"purpose": "terms", "granted": True, "notice_version": "v1"}),
        404,
        "member_not_found",
    )


def test_tag_member_over_api(api):
    member = make_member()
    r = api.post(f"/members/{member.member_no}/tags", {"tag": "VIP"})
    assert r.status_code == 201
    assert r.json()["tags"] == ["VIP"]
    link = MemberTag.objects.get(member=member)
    assert link.source == "api"
    assert link.actor_label == "api:test till"
    assert_error(api.post(f"/members/{member.member_no}/tags", {"tag": ""}), 422, "validation_error")
    assert_error(api.post("/members/0000000000/tags", {"tag": "VIP"}), 404, "member_not_found")


# --------------------------------------------------------------------------- identify


def test_identify_by_phone_member_no_card_and_qr(api):
    member = make_member("张伟", phone="13812345678", card_no="C-1")
    token = services.issue_qr_token(member)
    for body in ({"phone": "138 1234 5678"}, {"member_no": member.member_no}, {"card_no": "C-1"}, {"qr_token": token}):
        r = api.post("/pos/identify", body)
        assert r.status_code == 200, (body, r.content)
        assert r.json()["member_no"] == member.member_no


def test_identify_refusals(api):
    make_member(phone="13812345678")
    assert_error(api.post("/pos/identify", {"phone": "13912345678"}), 404, "member_not_found")
    assert_error(api.post("/pos/identify", {"phone": "12"}), 422, "invalid_phone")
    assert_error(api.post("/pos/identify", {"qr_token": "garbage"}), 422, "invalid_token")
    assert_error(api.post("/pos/identify", {}), 422, "validation_error")


def test_identify_does_not_find_closed_or_merged_by_phone(api):
    member = make_member(phone="13812345678")
    services.do_change_status(member=member, status="closed", reason="left")
    assert_error(api.post("/pos/identify", {"phone": "13812345678"}), 404, "member_not_found")


def test_identify_by_qr_of_a_merged_member_finds_the_survivor(api):
    survivor = make_member("张伟", phone="13812345678")
    absorbed = make_member("张伟", phone="13912345678")
    token = services.issue_qr_token(absorbed)
    services.do_merge_members(survivor=survivor, absorbed=absorbed, reason="same person")
    r = api.post("/pos/identify", {"qr_token": token})
    assert r.status_code == 200
    assert r.json()["member_no"] == survivor.member_no
