"""Finding members by what a person types, and pages without counting."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.factories import make_member

from patron.members import queries, services
from patron.members.models import Member
from patron.members.queries import MemberFilter, list_members, paginate, search_queryset

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return {
        "zhang": make_member("张伟", phone="13812345678", card_no="88001234"),
        "zhangli": make_member("张丽", phone="13900001111"),
        "wang": make_member("王芳", phone="13700002222", card_no="VIP-0042"),
        "john": make_member("John Smith", phone="13600003333"),
    }


def found(text):
    return set(search_queryset(text).values_list("name", flat=True))


@pytest.mark.parametrize("text", ["13812345678", "138 1234 5678", "+86 138-1234-5678", "+8613812345678"])
def test_search_by_full_phone_in_any_spelling(people, text):
    assert found(text) == {"张伟"}


def test_search_by_last_four_digits(people):
    assert found("5678") == {"张伟"}
    assert found("1111") == {"张丽"}
    assert found("9999") == set()


def test_search_by_member_number(people):
    assert found(people["wang"].member_no) == {"王芳"}


def test_search_by_numeric_card_number(people):
    assert found("88001234") == {"张伟"}


def test_search_by_alphanumeric_card_number(people):
    assert found("VIP-0042") == {"王芳"}


def test_search_by_chinese_name_prefix(people):
    assert found("张") == {"张伟", "张丽"}
    assert found("张伟") == {"张伟"}
    assert found("伟") == set()


@pytest.mark.parametrize("text", ["zhangwei", "ZhangWei", "zhang wei", "zhangw", "zw"])
def test_search_by_pinyin_full_and_initials(people, text):
    assert found(text) == {"张伟"}


def test_pinyin_prefix_finds_everyone_with_that_surname(people):
    assert found("zhang") == {"张伟", "张丽"}
    assert found("z") == {"张伟", "张丽"}


@pytest.mark.parametrize("text", ["John", "john smith", "johns", "js"])
def test_search_by_english_name(people, text):
    assert found(text) == {"John Smith"}


def test_search_by_tag_prefix(people):
    services.do_tag_member(member=people["wang"], tag_name="VIP")
    services.do_tag_member(member=people["john"], tag_name="VIP")
    services.do_tag_member(member=people["zhang"], tag_name="新客")
    assert found("tag:VIP") == {"王芳", "John Smith"}
    assert found("TAG: 新客") == {"张伟"}
    assert found("tag:nobody") == set()


def test_search_by_email(people):
    services.do_update_member(member=people["john"], changes={"email": "john@example.com"})
    assert found("JOHN@example.com") == {"John Smith"}


def test_nonsense_finds_nobody(people):
    assert found("!!!") == set()
    assert found("") == set()
    assert {m.name for m in MemberFilter(q="  ").apply()} == {"张伟", "张丽", "王芳", "John Smith"}


def test_member_filter_combines_query_tag_status_and_store(people, store):
    services.do_tag_member(member=people["zhang"], tag_name="VIP")
    services.do_tag_member(member=people["zhangli"], tag_name="VIP")
    services.do_change_status(member=people["zhangli"], status="frozen", reason="check")
    assert {m.name for m in MemberFilter(q="zhang", tag="VIP").apply()} == {"张伟", "张丽"}
    assert {m.name for m in MemberFilter(q="zhang", tag="VIP", status="active").apply()} == {"张伟"}
    assert list(MemberFilter(store="SH001").apply()) == []


def test_member_filter_by_join_dates_uses_the_member_time_zone(people):
    import datetime as dt

    # 2026-03-01 23:30 in Shanghai is still 15:30 UTC on the same day.
    Member.objects.filter(pk=people["zhang"].pk).update(joined_at=dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC))
    Member.objects.filter(pk=people["wang"].pk).update(joined_at=dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC))
    day = dt.date(2026, 3, 1)
    assert {m.name for m in MemberFilter(joined_from=day, joined_to=day).apply()} == {"张伟"}
    assert {m.name for m in MemberFilter(joined_from=dt.date(2026, 3, 2), joined_to=dt.date(2026, 3, 2)).apply()} == {
        "王芳"
    }


def test_paginate_reports_has_next_without_counting(db):
    for i in range(7):
        make_member(f"会员{i}")
    with CaptureQueriesContext(connection) as ctx:
        first = list_members(MemberFilter(), page=1, size=3)
        last = list_members(MemberFilter(), page=3, size=3)
    assert (len(first.items), first.has_next, first.has_previous) == (3, True, False)
    assert (len(last.items), last.has_next, last.has_previous) == (1, False, True)
    assert len(ctx.captured_queries) == 2
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)


def test_paginate_exact_multiple_has_no_next_page(db):
    for i in range(4):
        make_member(f"会员{i}")
    page = paginate(Member.objects.order_by("id"), page=2, size=2)
    assert (len(page.items), page.has_next) == (2, False)


def test_paginate_clamps_page_and_size(db):
    make_member()
    page = paginate(Member.objects.order_by("id"), page=0, size=10_000)
    assert (page.number, page.size) == (1, 200)


def test_list_members_newest_first(db):
    a = make_member("甲")
    b = make_member("乙")
    assert [m.pk for m in list_members(MemberFilter()).items] == [b.pk, a.pk]


def test_search_ignores_merged_or_not_is_up_to_the_caller(people):
    # Search finds records in any status; the console shows the status badge.
    services.do_change_status(member=people["zhang"], status="closed", reason="left")
    assert found("zhangwei") == {"张伟"}
    assert queries.get_member_by_no(people["zhang"].member_no).status == "closed"


@pytest.mark.parametrize("rare_below", [1, 5000])
def test_tag_filter_gives_the_same_members_whether_the_tag_is_rare_or_common(monkeypatch, rare_below):
    from patron.members import queries as q

    monkeypatch.setattr(q, "_RARE_TAG", rare_below)
    tagged = [make_member(name=f"车主{i}") for i in range(3)]
    make_member(name="无标签")
    for m in tagged:
        services.do_tag_member(member=m, tag_name="车主", source="agent")
    found = q.list_members(q.MemberFilter(tag="车主")).items
    assert sorted(m.pk for m in found) == sorted(m.pk for m in tagged)
    assert q.list_members(q.MemberFilter(tag="没有这个标签")).items == []
