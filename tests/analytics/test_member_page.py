"""The member page's analytics section: stage, RFM, churn reason in words and CLV, by role."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from patron.analytics import services
from patron.analytics.models import MemberMetrics
from patron.core import clock
from patron.core.permissions import Perm, Role, roles_with
from tests.factories import make_member, make_sale


def overdue_member(store):
    start = clock.local_today() - dt.timedelta(days=250)
    with clock.frozen(clock.local_midnight(start)):
        member = make_member(name="王芳")
    for k in range(6):
        day = start + dt.timedelta(days=10 + 30 * k)
        make_sale(member, store, occurred_at=clock.local_midnight(day) + dt.timedelta(hours=11))
    services.refresh_metrics(as_of=start + dt.timedelta(days=160 + 45))
    return member


def test_the_section_shows_the_churn_reason_in_words_and_the_clv(client, staff, store):
    member = overdue_member(store)
    m = MemberMetrics.objects.get(member=member)
    assert m.overdue and m.clv is None  # one member is too few to fit the CLV models
    client.force_login(staff("marketer"))
    page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "Member analytics" in page
    assert "Overdue: usually buys every 30 days (give or take 0); no purchase for 45 days" in page
    assert "R" in page and "Lifecycle stage" in page


def test_the_section_is_in_chinese_for_a_chinese_console(client, staff, store):
    member = overdue_member(store)
    client.force_login(staff("marketer"))
    page = client.get(reverse("members:detail", args=[member.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "会员分析" in page
    assert "通常每 30 天购买一次" in page


def test_only_roles_with_analytics_view_see_the_section(client, staff, store):
    member = overdue_member(store)
    for role in Role:
        client.force_login(staff(role.value))
        page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
        assert ('data-testid="churn-reason"' in page) == (role in roles_with(Perm.ANALYTICS_VIEW)), role
