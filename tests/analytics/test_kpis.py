"""The KPI dashboard's figures on small hand-built histories whose answers are worked out by hand.

Dates are local Shanghai times; May 2025 is the period under test and April the one before it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from patron.analytics import kpis, services
from patron.analytics.kpis import Period, PeriodKind
from patron.analytics.models import LifecycleTransition, MemberMetrics
from patron.core import clock
from patron.ledger import queries as ledger_queries
from patron.ledger import services as ledger
from patron.members import services as member_services
from patron.members.models import Member, MemberStatus
from patron.tiers import services as tier_services
from tests.factories import make_member, make_sale, make_store
from tests.tiers.models import ladder

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAY = Period(PeriodKind.MONTH, dt.date(2025, 5, 1))
APRIL = Period(PeriodKind.MONTH, dt.date(2025, 4, 1))


def at(text: str) -> dt.datetime:
    """A local Shanghai time ("2025-05-03 10:00") as aware UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(dt.UTC)


def member_joined(text: str, **kw) -> Member:
    with clock.frozen(at(text)):
        return make_member(**kw)


def sale(member, store, text: str, amount: str = "100.00"):
    return make_sale(member, store, amount=amount, occurred_at=at(text))


def refund(original, text: str, amount: str):
    txn, _created = member_services.do_record_refund(
        original=original, external_id=f"R{original.pk}", amount=Decimal(amount), occurred_at=at(text)
    )
    return txn


# =========================================================================== periods


def test_periods_name_themselves_and_step_back_across_years():
    assert Period.parse("2025-05") == MAY and MAY.previous() == APRIL
    assert Period.parse("2025-Q2") == Period(PeriodKind.QUARTER, dt.date(2025, 4, 1))
    assert Period.parse("2025") == Period(PeriodKind.YEAR, dt.date(2025, 1, 1))
    assert Period.parse("2025-13") is None and Period.parse("2025-Q5") is None and Period.parse("x") is None
    january = Period(PeriodKind.MONTH, dt.date(2026, 1, 1))
    assert january.previous().key == "2025-12"
    assert Period(PeriodKind.QUARTER, dt.date(2026, 1, 1)).previous().key == "2025-Q4"
    assert Period.parse("2025-Q4").end == dt.date(2026, 1, 1)  # type: ignore[union-attr]
    assert kpis.last_complete(PeriodKind.MONTH, dt.date(2026, 1, 15)).key == "2025-12"
    assert kpis.last_complete(PeriodKind.QUARTER, dt.date(2026, 5, 2)).key == "2026-Q1"
    assert [p.key for p in kpis.recent_periods(PeriodKind.YEAR, 3, dt.date(2026, 3, 1))] == ["2025", "2024", "2023"]
    # The period starts at local midnight: 16:00 UTC the day before.
    assert MAY.since == dt.datetime(2025, 4, 30, 16, 0, tzinfo=dt.UTC)


# =========================================================================== members and purchases


@pytest.fixture
def may(db):
    """A, B, C, D joined in March, E in May; D's home store is another one.

    April: A, B and C buy. May: A on two days; B twice on one local day (07:00 and 20:00, two UTC
    dates) and refunds ¥40; D once; E once. C buys again only after midnight on 1 June."""
    home, other = make_store(code="HOME"), make_store(code="OTHER")
    a, b, c = (member_joined("2025-03-10 10:00", name=n, store=home) for n in ("A", "B", "C"))
    d = member_joined("2025-03-10 10:00", name="D", store=other)
    e = member_joined("2025-05-05 10:00", name="E", store=home)
    sale(a, home, "2025-04-02 10:00", "100.00")
    sale(b, home, "2025-04-03 10:00", "200.00")
    sale(c, home, "2025-04-30 23:50", "50.00")
    sale(a, home, "2025-05-03 10:00", "100.00")
    sale(a, other, "2025-05-20 10:00", "150.00")
    sale(b, home, "2025-05-07 07:00", "60.00")
    b_second = sale(b, home, "2025-05-07 20:00", "40.00")
    refund(b_second, "2025-05-08 10:00", "40.00")
    sale(d, other, "2025-05-10 10:00", "300.00")
    sale(e, home, "2025-05-06 10:00", "80.00")
    sale(c, home, "2025-06-01 00:10", "70.00")
    return {"home": home, "other": other, "a": a, "b": b, "c": c, "d": d, "e": e}


def test_members_new_members_and_active_members_of_a_month(may):
    assert kpis.members_total(MAY) == 5
    assert kpis.members_total(APRIL) == 4
    assert kpis.new_members(MAY) == 1 and kpis.new_members(APRIL) == 0
    assert kpis.active_members(MAY) == 4  # A, B, D, E: C's June purchase is after local midnight
    assert kpis.active_members(APRIL) == 3  # C's 23:50 purchase is still April, locally


def test_a_closed_member_stays_a_new_member_of_the_month_but_leaves_the_total(may):
    member_services.do_change_status(member=may["e"], status=MemberStatus.CLOSED, reason="test")
    assert kpis.new_members(MAY) == 1
    assert kpis.members_total(MAY) == 4


def test_retention_and_churn_follow_the_previous_months_buyers(may):
    assert kpis.retained_members(MAY) == 2  # A and B of April's A, B, C
    assert kpis.retention_rate(MAY) == Decimal("66.7")
    assert kpis.churn_rate(MAY) == Decimal("33.3")
    assert kpis.retention_rate(APRIL) is None  # nobody bought in March


def test_repeat_buyers_bought_on_two_local_days(may):
    # A bought on 3 and 20 May; B's two receipts fall on two UTC dates but one local day.
    assert kpis.repeat_buyers(MAY) == 1
    assert kpis.repeat_purchase_rate(MAY) == Decimal("25.0")


def test_arpu_is_net_sales_per_active_member(may):
    # 100 + 150 + 60 + 40 − 40 + 300 + 80
    assert kpis.net_sales(MAY) == Decimal("690.00")
    assert kpis.arpu(MAY) == Decimal("172.50")
    assert kpis.arpu(Period(PeriodKind.MONTH, dt.date(2025, 2, 1))) is None


def test_member_share_of_revenue_is_all_of_it_over_all_members(may):
    # Every recorded sale carries a member: over all members the share is 100% by construction.
    assert kpis.member_revenue_share(MAY) == Decimal("100.0")
    others = Member.objects.filter(store=may["other"])
    assert kpis.member_revenue_share(MAY, others) == Decimal("43.5")  # D's 300 of 690


def test_every_figure_keeps_to_the_members_given(may):
    home = Member.objects.filter(store=may["home"])  # A, B, C, E; their purchases at any store count
    figures = kpis.figures(MAY, home)
    assert figures.members_total == 4 and figures.new_members == 1 and figures.active_members == 3
    assert figures.retention_rate == Decimal("66.7") and figures.churn_rate == Decimal("33.3")
    assert figures.repeat_purchase_rate == Decimal("33.3")  # A of A, B, E
    assert figures.net_sales == Decimal("390.00") and figures.arpu == Decimal("130.00")
    assert figures.member_revenue_share == Decimal("56.5")
    whole = kpis.figures(MAY)
    assert whole.active_members == 4 and whole.member_revenue_share == Decimal("100.0")


def test_the_comparison_is_the_two_periods_figures(may):
    home = Member.objects.filter(store=may["home"])
    for members in (None, home):
        now, before = kpis.compare(MAY, members)
        assert now == kpis.figures(MAY, members) and before == kpis.figures(APRIL, members)


def test_a_quarter_and_a_year_count_their_months_together(may):
    q2 = Period.parse("2025-Q2")
    assert q2 is not None
    assert kpis.active_members(q2) == 5  # A, B, C (April and June), D, E
    assert kpis.repeat_buyers(q2) == 3  # A, B (April and May), C (April and June)
    assert kpis.retention_rate(q2) is None  # nobody bought in the first quarter
    assert kpis.active_members(Period.parse("2025")) == 5  # type: ignore[arg-type]


# =========================================================================== points


def test_points_issued_redeemed_expired_and_outstanding_in_a_period(db):
    member, other = member_joined("2025-03-01 10:00"), member_joined("2025-03-01 10:00", name="李娜")
    with clock.frozen(at("2025-04-20 10:00")):
        ledger.do_earn(member=member, points=500, memo="april")
    with clock.frozen(at("2025-05-02 10:00")):
        ledger.do_earn(member=member, points=1000, memo="may")
        ledger.do_earn(member=other, points=300, memo="may")
    with clock.frozen(at("2025-05-10 10:00")):
        ledger.do_redeem(member=member, points=400)
    with clock.frozen(at("2025-06-03 10:00")):
        ledger.do_redeem(member=member, points=100)

    moved = kpis.points_moved(MAY)
    assert (moved.issued, moved.redeemed, moved.expired) == (1300, 400, 0)
    assert moved.redemption_rate == Decimal("30.8")
    assert kpis.points_moved(APRIL).issued == 500 and kpis.points_moved(APRIL).redemption_rate == Decimal("0.0")
    assert kpis.points_moved(Period(PeriodKind.MONTH, dt.date(2025, 2, 1))).redemption_rate is None
    assert kpis.outstanding_points(MAY.until) == 500 + 1300 - 400
    assert kpis.outstanding_points(APRIL.until) == 500
    # What members held at the start of May is what they held at its end plus the program's side of May.
    assert kpis.outstanding_points(APRIL.until) == kpis.outstanding_points(MAY.until) + moved.program_total
    may_now, april = kpis.compare(MAY)
    assert (may_now.outstanding_points, april.outstanding_points) == (1400, 500)
    only = Member.objects.filter(pk=other.pk)
    assert kpis.points_moved(MAY, only).issued == 300 and kpis.outstanding_points(MAY.until, only) == 300
    # Now, over everyone, it is the finance page's liability.
    assert kpis.outstanding_points(clock.now()) == ledger_queries.liability().outstanding == 1300 + 500 - 500


def test_points_that_expire_count_in_the_month_they_expire(db):
    member = member_joined("2025-03-01 10:00")
    with clock.frozen(at("2025-04-01 10:00")):
        ledger.do_earn(member=member, points=200, memo="april")
    lot = member.lots.get()
    lot.expires_at = at("2025-05-15 00:00")
    lot.save(update_fields=["expires_at"])  # the program's default would expire it years later
    with clock.frozen(at("2025-05-16 03:00")):
        ledger.expire_member_lots(member.pk)
    assert kpis.points_moved(MAY).expired == 200
    assert kpis.outstanding_points(MAY.until) == 0 and kpis.outstanding_points(APRIL.until) == 200


# =========================================================================== cohorts


def test_cohort_cells_count_each_join_months_buyers_by_month(db):
    store = make_store()
    jan = [member_joined("2025-01-05 10:00", name=f"一月{i}") for i in range(4)]
    feb = [member_joined("2025-02-28 23:30", name=f"二月{i}") for i in range(2)]  # still February, locally
    member_joined("2025-03-02 10:00", name="三月")
    sale(jan[0], store, "2025-01-06 10:00")
    sale(jan[1], store, "2025-01-20 10:00")
    sale(jan[0], store, "2025-02-01 10:00")
    sale(jan[0], store, "2025-02-02 10:00")  # twice in a month is one buyer
    sale(jan[2], store, "2025-03-31 23:59")
    sale(feb[0], store, "2025-03-15 10:00")
    sale(jan[3], store, "2025-04-01 00:30")  # after the last month

    rows = kpis.cohort_retention(dt.date(2025, 3, 1), cohorts=3)
    assert [(f"{r.month:%Y-%m}", r.size) for r in rows] == [("2025-01", 4), ("2025-02", 2), ("2025-03", 1)]
    assert rows[0].buyers == [2, 1, 1]
    assert rows[0].rates == [Decimal("50.0"), Decimal("25.0"), Decimal("25.0")]
    assert rows[1].buyers == [0, 1, None] and rows[1].rates == [Decimal("0.0"), Decimal("50.0"), None]
    assert rows[2].buyers == [0, None, None]
    first_only = Member.objects.filter(pk=jan[0].pk)
    assert kpis.cohort_retention(dt.date(2025, 3, 1), first_only, cohorts=3)[0].buyers == [1, 1, 0]


def test_the_cohort_table_has_twelve_join_months_by_default(db):
    rows = kpis.cohort_retention(dt.date(2025, 5, 1))
    assert len(rows) == 12 and rows[0].month == dt.date(2024, 6, 1) and rows[-1].month == dt.date(2025, 5, 1)
    assert rows[0].buyers == [0] * 12 and rows[-1].buyers == [0] + [None] * 11


# =========================================================================== the refresh's portrait


def metrics_row(member: Member, **kw) -> MemberMetrics:
    """A metrics row as a refresh would have written it, with the figures a test needs."""
    fields = {"as_of": dt.date(2025, 6, 1), "lifecycle_stage": "active", **kw}
    return MemberMetrics.objects.create(member=member, **fields)


@pytest.fixture
def portrait(db):
    """Ten buyers and two members who never bought, with their RFM, class, spend and CLV."""
    people = [make_member(name=f"会员{i}") for i in range(12)]
    buyers = [
        # r, f, m, monetary, class, spend_long, clv, stage
        (5, 5, 5, "5000", "A", "5000", "12000", "mature"),
        (5, 5, 3, "900", "B", "900", "2500", "active"),
        (5, 4, 4, "1500", "B", "1500", "1500", "active"),
        (4, 1, 1, "100", "D", "100", "150", "new"),
        (4, 1, 2, "300", "C", "300", "90", "new"),
        (1, 1, 1, "100", "D", "100", None, "at_risk"),
        (1, 2, 2, "200", "D", "100", "50", "at_risk"),
        (1, 2, 1, "100", "D", "100", "20", "lapsed_recent"),
        (2, 3, 3, "600", "C", "600", "400", "active"),
        (3, 3, 3, "500", "D", "300", "700", "active"),
    ]
    for person, (r, f, m, monetary, value_class, spend, clv, stage) in zip(people, buyers, strict=False):
        metrics_row(
            person,
            r_score=r,
            f_score=f,
            m_score=m,
            rfm_monetary=Decimal(monetary),
            rfm_frequency=f,
            value_class=value_class,
            spend_long=Decimal(spend),
            purchase_days_long=f,
            clv=Decimal(clv) if clv else None,
            lifecycle_stage=stage,
        )
    for person in people[10:]:
        metrics_row(person, lifecycle_stage="prospect")
    return people


def test_the_rfm_grid_counts_members_per_r_and_f_with_their_average_m(portrait):
    cells = {(c.r, c.f): c for c in kpis.rfm_grid()}
    assert len(cells) == 25 and sum(c.members for c in cells.values()) == 10
    assert cells[(5, 5)].members == 2 and cells[(5, 5)].average_m == Decimal("4.00")
    assert cells[(5, 5)].average_monetary == Decimal("2950.00")
    assert cells[(1, 2)].members == 2 and cells[(1, 2)].average_m == Decimal("1.50")
    assert cells[(4, 1)].average_monetary == Decimal("200.00")
    assert cells[(3, 1)].members == 0 and cells[(3, 1)].average_m is None
    assert [(c.r, c.f) for c in kpis.rfm_grid()][:6] == [(5, 1), (5, 2), (5, 3), (5, 4), (5, 5), (4, 1)]
    first_two = Member.objects.filter(pk__in=[portrait[0].pk, portrait[1].pk, portrait[5].pk])
    cells = {(c.r, c.f): c.members for c in kpis.rfm_grid(first_two)}
    assert cells[(5, 5)] == 2 and cells[(1, 1)] == 1 and sum(cells.values()) == 3


def test_the_pareto_share_is_the_top_fifth_of_buyers_spend(portrait):
    view = kpis.pareto()
    # Spend, highest first: 5000, 1500 | 900, 600, 300, 300, 100 × 4 = 9000 in all.
    assert view.buyers == 10 and view.top_members == 2
    assert view.top_share == Decimal("72.2")  # 6500 / 9000
    assert view.lorenz[0] == (Decimal(0), Decimal(0)) and view.lorenz[-1] == (Decimal(100), Decimal("100.0"))
    assert dict(view.lorenz)[Decimal(80)] == Decimal("27.8")  # the lowest 80% bring the rest
    assert dict(view.lorenz)[Decimal(40)] == Decimal("4.4")  # the four ¥100 buyers: 400 / 9000
    xs = [x for x, _y in view.lorenz]
    assert xs == [Decimal(5 * k) for k in range(21)]


def test_the_pareto_view_rounds_the_top_fifth_up_and_is_empty_without_buyers(portrait):
    three = Member.objects.filter(pk__in=[p.pk for p in portrait[:3]])  # 5000, 900, 1500
    view = kpis.pareto(three)
    assert view.buyers == 3 and view.top_members == 1 and view.top_share == Decimal("67.6")  # 5000 / 7400
    nobody = kpis.pareto(Member.objects.filter(pk=portrait[11].pk))
    assert nobody.buyers == 0 and nobody.top_share is None


def test_value_classes_give_member_and_spend_shares(portrait):
    classes = {c.value_class: c for c in kpis.value_classes()}
    assert [c for c in classes] == ["A", "B", "C", "D"]
    assert classes["A"].members == 1 and classes["A"].member_share == Decimal("10.0")
    assert classes["A"].revenue == Decimal("5000.00") and classes["A"].revenue_share == Decimal("55.6")
    assert classes["B"].members == 2 and classes["B"].revenue_share == Decimal("26.7")  # 2400 / 9000
    assert classes["D"].members == 5 and classes["D"].revenue == Decimal("700.00")


def test_lifecycle_stages_list_every_stage(portrait):
    stages = dict(kpis.lifecycle_stages())
    assert stages["active"] == 4 and stages["prospect"] == 2 and stages["dormant"] == 0
    assert next(iter(stages)) == "prospect" and sum(stages.values()) == 12


def test_clv_distribution_buckets_the_scored_members(portrait):
    clv = kpis.clv_distribution()
    by_low = {b.low: b.members for b in clv.buckets}
    # 12000, 2500, 1500, 150, 90, 50, 20, 400, 700; one buyer and two prospects are not scored.
    assert by_low == {None: 3, 100: 1, 200: 1, 500: 1, 1000: 1, 2000: 1, 5000: 0, 10000: 1}
    assert clv.unscored == 3
    assert clv.buckets[0].high == 100 and clv.buckets[-1].high is None


def test_lifecycle_flows_count_the_periods_stage_changes(portrait):
    a, b, c = portrait[:3]
    for member, day, before, after in [
        (a, dt.date(2025, 5, 1), "", "new"),
        (b, dt.date(2025, 5, 1), "active", "at_risk"),
        (c, dt.date(2025, 5, 1), "active", "at_risk"),
        (c, dt.date(2025, 5, 31), "at_risk", "active"),
        (a, dt.date(2025, 6, 1), "new", "active"),  # June
        (b, dt.date(2025, 4, 30), "mature", "active"),  # April
    ]:
        LifecycleTransition.objects.create(member=member, day=day, from_stage=before, to_stage=after)
    flows = [(f.from_stage, f.to_stage, f.members) for f in kpis.lifecycle_flows(MAY)]
    assert flows == [("active", "at_risk", 2), ("", "new", 1), ("at_risk", "active", 1)]
    only_c = Member.objects.filter(pk=c.pk)
    assert [(f.from_stage, f.members) for f in kpis.lifecycle_flows(MAY, only_c)] == [("active", 1), ("at_risk", 1)]


def test_the_grid_and_the_pareto_view_read_a_real_refresh(db):
    """End to end: purchases, the nightly refresh, then the dashboard's reads of what it wrote."""
    store = make_store()
    as_of = clock.local_today()
    spends = ["2000.00", "300.00", "200.00", "100.00", "100.00"]
    for i, amount in enumerate(spends):
        member = member_joined(f"{as_of - dt.timedelta(days=200)} 10:00", name=f"顾客{i}")
        make_sale(member, store, amount=amount, occurred_at=clock.local_midnight(as_of - dt.timedelta(days=10 + i)))
    member_joined(f"{as_of - dt.timedelta(days=5)} 10:00", name="新会员")
    services.refresh_metrics(as_of=as_of)
    view = kpis.pareto()
    assert view.buyers == 5 and view.top_members == 1 and view.top_share == Decimal("74.1")  # 2000 / 2700
    assert sum(c.members for c in kpis.rfm_grid()) == 5
    assert dict(kpis.lifecycle_stages())["prospect"] == 1


# =========================================================================== tiers


def test_tier_mix_places_members_as_the_tiers_show_them(db):
    with clock.frozen(at("2025-01-02 09:00")):
        model = tier_services.do_create_model(name="测试等级", config=ladder())
        tier_services.do_go_live(model=model)
    tier_services.forget_live_model()
    people = [make_member(name=f"等级{i}") for i in range(4)]
    tier_services.do_set_override(
        member=people[0], tier_code="gold", until=clock.now() + dt.timedelta(days=30), reason="VIP"
    )
    member_services.do_change_status(member=people[3], status=MemberStatus.CLOSED, reason="test")
    mix = {t.code: (t.members, t.share) for t in kpis.tier_mix(language="en")}
    assert mix == {"base": (2, Decimal("66.7")), "silver": (0, Decimal("0.0")), "gold": (1, Decimal("33.3")),
                   "diamond": (0, Decimal("0.0"))}  # fmt: skip
    assert [t.name for t in kpis.tier_mix(language="zh-hans")][:2] == ["普通会员", "银卡"]
    assert list(kpis.members_at_tier("gold")) == [people[0]]


def test_tier_mix_is_empty_without_a_live_model(db):
    make_member()
    assert kpis.tier_mix() == []
