"""The console in a real browser: sign-in and lockout, dashboard chart, language, member search and reveal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from patron.core.models import AuditEntry
from patron.members.phones import mask_phone, national_digits
from tests.factories import make_member, make_sale

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/member_page.png"


def test_sign_in_reaches_the_dashboard(page, sign_in, staff, live_server):
    user = staff("agent")
    sign_in(user)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_test_id("who")).to_contain_text(user.username if not user.display_name else user.display_name)


def test_five_wrong_passwords_lock_the_account(page, sign_in, staff, settings):
    settings.LOGIN_MAX_FAILURES = 5
    user = staff("agent")
    for _ in range(5):
        sign_in(user, password="wrong-password")
        expect(page.get_by_test_id("login-error")).to_be_visible()
    sign_in(user)  # the right password, too late
    expect(page.get_by_test_id("login-error")).to_contain_text("15")
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_dashboard_shows_counts_and_draws_the_chart(page, sign_in, staff, store):
    make_member(name="李娜", store=store)
    make_member(name="王强", store=store)
    sign_in(staff("analyst"))
    expect(page.get_by_test_id("kpi-members").locator("strong")).to_have_text("2")
    expect(page.get_by_test_id("kpi-new").locator("strong")).to_have_text("2")
    expect(page.locator("#chart-joins")).to_have_attribute("data-rendered", "1")
    expect(page.locator("#chart-joins canvas")).to_have_count(1)


def test_switching_to_english_shows_english_labels(page, sign_in, staff, live_server):
    sign_in(staff("agent"))
    page.goto(f"{live_server.url}/members/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("search")).to_have_text("搜索")
    page.get_by_test_id("language").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/members/$"))
    expect(page.get_by_test_id("search")).to_have_text("Search")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_agent_finds_a_member_by_pinyin_and_reveals_the_phone(page, sign_in, staff, store, live_server):
    member = make_member(name="张伟", store=store, city="上海", email="zhangwei@example.com")
    make_member(name="李娜", store=store)
    make_sale(member, store, amount="128.00")
    agent = staff("agent")
    sign_in(agent)

    page.goto(f"{live_server.url}/members/")
    page.fill("input[name=q]", "zhangwei")
    page.get_by_test_id("search").click()
    rows = page.get_by_test_id("member-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(mask_phone(member.phone))
    page.get_by_test_id("member-link").click()

    expect(page.get_by_test_id("member-name")).to_contain_text("张伟")
    expect(page.get_by_test_id("phone-masked")).to_have_text(mask_phone(member.phone))
    page.get_by_test_id("reveal-open").click()
    page.fill("#reveal-reason", "回电处理投诉")
    page.get_by_test_id("reveal-submit").click()
    expect(page.get_by_test_id("phone-full")).to_have_text(national_digits(member.phone))
    page.screenshot(path=SCREENSHOT, full_page=True)

    entry = AuditEntry.objects.get(action="member.reveal_phone")
    assert entry.actor_id == agent.pk
    assert entry.reason == "回电处理投诉"


def test_reveal_without_a_reason_is_refused_in_the_page(page, sign_in, staff, store, live_server):
    member = make_member(name="王芳", store=store)
    sign_in(staff("supervisor"))
    page.goto(f"{live_server.url}/members/{member.pk}/")
    page.get_by_test_id("reveal-open").click()
    page.fill("#reveal-reason", "   ")  # passes the browser's `required`, not the service
    page.get_by_test_id("reveal-submit").click()
    expect(page.get_by_test_id("error-reason")).to_be_visible()
    expect(page.get_by_test_id("phone-full")).to_have_count(0)
    assert not AuditEntry.objects.filter(action="member.reveal_phone").exists()
