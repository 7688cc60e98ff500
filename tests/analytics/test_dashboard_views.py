"""The KPI dashboard's pages: who may see them, the filters, the exports, both languages."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

import openpyxl
import pytest
from django.urls import reverse

from patron.analytics import kpis, services, views_dashboard
from patron.analytics.kpis import PeriodKind
from patron.analytics.models import MemberMetrics
from patron.core import clock
from patron.core.permissions import Perm, Role, roles_with
from patron.members.models import Member
from patron.tiers import services as tier_services
from tests.factories import make_member, make_sale, make_store
from tests.tiers.models import ladder

URL = "/analytics/"


def local(day: dt.date, hour: int = 11) -> dt.datetime:
    return clock.local_midnight(day) + dt.timedelta(hours=hour)


@pytest.fixture
def history(store):
    """Over the last complete month and the one before: three members of `store` and one of another
    store; a live tier ladder with one gold member; a refresh as of today."""
    period = kpis.last_complete(PeriodKind.MONTH)
    before = period.previous()
    with clock.frozen(clock.local_midnight(before.start - dt.timedelta(days=40))):
        model = tier_services.do_create_model(name="测试等级", config=ladder())
        tier_services.do_go_live(model=model)
        tier_services.forget_live_model()
        a, b, c = (make_member(name=n, store=store) for n in ("王芳", "李娜", "张伟"))
        other_store = make_store(code="BJ001", name="北京王府井店", city="北京")
        d = make_member(name="刘洋", store=other_store)
    make_sale(a, store, "100.00", occurred_at=local(before.start + dt.timedelta(days=3)))
    make_sale(b, store, "200.00", occurred_at=local(before.start + dt.timedelta(days=4)))
    make_sale(a, store, "150.00", occurred_at=local(period.start + dt.timedelta(days=2)))
    make_sale(a, store, "50.00", occurred_at=local(period.start + dt.timedelta(days=9)))
    make_sale(d, other_store, "300.00", occurred_at=local(period.start + dt.timedelta(days=5)))
    tier_services.do_set_override(member=c, tier_code="gold", until=clock.now() + dt.timedelta(days=30), reason="VIP")
    services.refresh_metrics(as_of=clock.local_today())
    return {"period": period, "before": before, "store": store, "other_store": other_store, "a": a, "d": d}


def tile(response, key: str) -> views_dashboard.Tile:
    return next(t for t in response.context["tiles"] if t.key == key)


def test_the_page_opens_for_each_role_with_analytics_view_and_is_403_for_the_others(client, staff, history):
    allowed = roles_with(Perm.ANALYTICS_VIEW)
    assert allowed  # the table grants it to someone
    for role in Role:
        client.force_login(staff(role.value))
        page = client.get(URL)
        download = client.get(reverse("kpi:export"), {"table": "kpis", "format": "csv"})
        if role in allowed:
            assert page.status_code == 200, role
            assert 'data-testid="kpi-tiles"' in page.content.decode(), role
            assert download.status_code == 200, role
        else:
            assert page.status_code == 403, role
            assert download.status_code == 403, role
    client.logout()
    assert client.get(URL).status_code == 302


def test_the_url_name_is_kept(db):
    assert reverse("kpi:dashboard") == URL and reverse("kpi:export") == "/analytics/export/"


def test_the_tiles_compare_the_last_complete_month_with_the_one_before(client, staff, history):
    client.force_login(staff("marketer"))
    response = client.get(URL)
    assert response.context["period"] == history["period"]
    assert tile(response, "active_members").value == 2 and tile(response, "active_members").previous == 2
    retention = tile(response, "retention_rate")
    assert retention.value == 50 and retention.shown == "50.0%"  # A of A and B
    assert tile(response, "churn_rate").value == 50 and tile(response, "churn_rate").tone == ""
    assert tile(response, "repeat_purchase_rate").value == 50  # A bought on two days
    arpu = tile(response, "arpu")
    assert arpu.shown == "¥250.00" and arpu.previous_shown == "¥150.00" and arpu.change == "+66.7%"
    assert arpu.direction == 1 and arpu.tone == "good"
    assert tile(response, "member_revenue_share").shown == "100.0%"
    assert tile(response, "members_total").value == 4
    body = response.content.decode()
    assert history["period"].key in body and "Satisfaction index (CSI/NPS)" in body
    assert "Available when surveys exist." in body and "Available when campaign costs exist." in body
    assert "vendor/echarts.min.js" in body and 'id="kpi-data"' in body
    assert 'data-testid="rfm-grid"' in body and "as of the last refresh" in body


def test_a_rate_changes_by_percentage_points():
    assert views_dashboard.change(60, 50, views_dashboard.Unit.PERCENT) == ("+10.0 pp", 1)
    assert views_dashboard.change(40, 50, views_dashboard.Unit.COUNT) == ("-20.0%", -1)
    assert views_dashboard.change(5, 0, views_dashboard.Unit.COUNT) == ("–", 1)
    assert views_dashboard.change(None, 50, views_dashboard.Unit.MONEY) == ("–", 0)


def test_the_store_filter_keeps_the_members_of_that_home_store(client, staff, history):
    client.force_login(staff("analyst"))
    response = client.get(URL, {"store": history["other_store"].pk})
    assert tile(response, "active_members").value == 1 and tile(response, "members_total").value == 1
    assert tile(response, "member_revenue_share").shown == "60.0%"  # 300 of 500
    assert tile(response, "retention_rate").value is None  # nobody of that store bought the month before
    grid = response.context["tables"]["rfm"].rows
    assert sum(row[2] for row in grid) == 1


def test_the_tier_filter_keeps_the_members_at_that_tier_now(client, staff, history):
    client.force_login(staff("analyst"))
    response = client.get(URL, {"tier": "gold"})
    assert tile(response, "members_total").value == 1 and tile(response, "active_members").value == 0
    assert [row[:2] for row in response.context["tables"]["tiers"].rows] == [
        ["Member", 0],
        ["Silver", 0],
        ["Gold", 1],
        ["Diamond", 0],
    ]
    assert 'value="gold" selected' in response.content.decode()


def test_a_quarter_or_a_year_can_be_chosen(client, staff, history):
    client.force_login(staff("analyst"))
    quarter = kpis.last_complete(PeriodKind.QUARTER)
    response = client.get(URL, {"period": quarter.key})
    assert response.context["period"] == quarter and response.context["previous"] == quarter.previous()
    year = kpis.last_complete(PeriodKind.YEAR)
    assert client.get(URL, {"period": year.key}).context["period"] == year


def test_filters_not_understood_are_ignored_and_said_so(client, staff, history):
    client.force_login(staff("analyst"))
    future = f"{clock.local_today().year + 1}-01"
    for query in [{"period": "2025-13"}, {"period": future}, {"store": "999999"}, {"tier": "platinum"}]:
        response = client.get(URL, query)
        assert response.status_code == 200
        assert response.context["period"] == history["period"]
        assert 'data-testid="filters-ignored"' in response.content.decode(), query


def test_the_segment_hook_restricts_nothing_yet_and_is_passed_on(client, staff, history, rf):
    assert views_dashboard.segment_members(rf.get(URL, {"segment": "7"})) is None
    client.force_login(staff("analyst"))
    response = client.get(URL, {"segment": "7"})
    assert tile(response, "active_members").value == 2
    assert "segment=7" in response.context["filters"].query


def same(value) -> object:
    """A cell as a number when it is one: Excel gives 50 back for the 50.0 CSV writes."""
    text = "" if value is None else str(value)
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


EXPECTED_ROWS = {"kpis": 16, "cohorts": 12, "rfm": 25, "stages": 8, "classes": 4, "lorenz": 21, "clv": 9, "tiers": 4}


def test_every_table_downloads_as_csv_and_excel_with_the_same_rows(client, staff, history):
    client.force_login(staff("marketer"))
    url = reverse("kpi:export")
    assert set(views_dashboard.EXPORTS) == {*EXPECTED_ROWS, "flows"}
    for table in views_dashboard.EXPORTS:
        as_csv = client.get(url, {"table": table, "format": "csv"})
        assert as_csv.status_code == 200 and as_csv["Content-Type"] == "text/csv; charset=utf-8"
        assert as_csv["Content-Disposition"].startswith('attachment; filename="kpi-')
        rows = rows_of(as_csv)
        if table in EXPECTED_ROWS:
            assert len(rows) == 1 + EXPECTED_ROWS[table], table
        as_xlsx = client.get(url, {"table": table, "format": "xlsx"})
        assert as_xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
        sheet = list(openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active.values)
        assert [[same(v) for v in row] for row in sheet] == [[same(v) for v in row] for row in rows], table
    assert client.get(url, {"table": "nonsense"}).status_code == 404
    assert client.get(url, {"table": "kpis", "format": "pdf"}).status_code == 404


def test_the_exports_hold_the_figures_of_the_page(client, staff, history):
    client.force_login(staff("marketer"))
    url = reverse("kpi:export")
    kpi_rows = {row[0]: row[1:] for row in rows_of(client.get(url, {"table": "kpis"}))}
    period, before = history["period"].key, history["before"].key
    assert kpi_rows["KPI"] == [period, before, "Change on the previous period"]
    assert kpi_rows["Active members"] == ["2", "2", "0.0%"]
    assert kpi_rows["Retention rate"][0] == "50.0" and kpi_rows["Member net sales"][0] == "500.00"
    assert kpi_rows["Satisfaction index (CSI/NPS)"] == ["", "", "Available when surveys exist."]
    by_store = {row[0]: row[1:] for row in rows_of(client.get(url, {"table": "kpis", "store": history["store"].pk}))}
    assert by_store["Active members"][0] == "1" and by_store["Member net sales"][0] == "200.00"
    cohorts = rows_of(client.get(url, {"table": "cohorts"}))
    assert cohorts[0][:3] == ["Join month", "Members who joined", "Month 0 (%)"]
    tiers = rows_of(client.get(url, {"table": "tiers"}))
    assert tiers[1:] == [
        ["Member", "3", "75.0"],
        ["Silver", "0", "0.0"],
        ["Gold", "1", "25.0"],
        ["Diamond", "0", "0.0"],
    ]
    rfm = rows_of(client.get(url, {"table": "rfm"}))
    assert rfm[0] == ["R score", "F score", "Members", "Average M score", "Average monetary"]
    assert sum(int(row[2]) for row in rfm[1:]) == MemberMetrics.objects.filter(r_score__isnull=False).count() == 3
    stages = dict((row[0], row[1]) for row in rows_of(client.get(url, {"table": "stages"}))[1:])
    assert stages["Prospect"] == "1"  # 张伟 never bought


def test_the_page_links_each_export_with_its_filters(client, staff, history):
    client.force_login(staff("marketer"))
    body = client.get(URL, {"store": history["store"].pk}).content.decode()
    for table in views_dashboard.EXPORTS:
        assert f'data-testid="export-{table}-csv"' in body and f'data-testid="export-{table}-xlsx"' in body
    assert f"table=cohorts&amp;format=csv&amp;period={history['period'].key}&amp;store={history['store'].pk}" in body


def test_the_page_says_when_no_refresh_has_run(client, staff, store):
    member = make_member(store=store)
    make_sale(member, store, occurred_at=local(kpis.last_complete(PeriodKind.MONTH).start))
    client.force_login(staff("analyst"))
    response = client.get(URL)
    assert response.status_code == 200 and response.context["run"] is None
    assert "No refresh has run yet" in response.content.decode()
    assert tile(response, "active_members").value == 1
    assert response.context["chart"]["rfm"]["max"] == 0 and response.context["chart"]["tiers"] == []


def test_the_page_speaks_chinese(client, staff, history):
    client.force_login(staff("marketer"))
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "会员分析" in body and "全部门店" in body and "全部等级" in body
    tiers = [row[0] for row in response.context["tables"]["tiers"].rows]
    assert tiers == ["普通会员", "银卡", "金卡", "钻石"]
    assert response.context["tables"]["stages"].rows[0][0] == "潜在会员（未消费）"
    assert Member.objects.count() == 4  # reading changed nothing


def test_the_segment_filter_restricts_the_figures_to_its_members(client, staff, db):
    from patron.analytics import services
    from patron.analytics.models import MemberMetrics
    from patron.core import clock
    from tests.factories import make_member

    with clock.frozen(clock.now() - dt.timedelta(days=70)):  # joined before the last complete month
        people = [make_member(name=f"会员{i}") for i in range(4)]
    services.refresh_metrics()
    MemberMetrics.objects.filter(member__in=people[:1]).update(overdue=True)
    segment = services.create_segment(
        name="逾期", rules={"match": "all", "conditions": [{"field": "overdue", "value": True}]}
    )
    client.force_login(staff("marketer"))
    everyone = client.get(reverse("kpi:dashboard"))
    only = client.get(reverse("kpi:dashboard"), {"segment": segment.pk})
    assert tile(everyone, "members_total").value == 4
    assert tile(only, "members_total").value == 1
    assert f'<option value="{segment.pk}" selected>' in only.content.decode()
    unknown = client.get(reverse("kpi:dashboard"), {"segment": "999999"})
    assert 'data-testid="filters-ignored"' in unknown.content.decode()
