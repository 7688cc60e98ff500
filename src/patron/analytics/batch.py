"""The nightly member metrics, written once as Ibis expressions (ADR 0012).

`member_metrics` takes three input tables and returns one row per member. The same expression runs
on DuckDB over Arrow (the default), on PostgreSQL itself and on Spark: `engines.py` gives each
engine the inputs with the same columns.

- purchases: txn_id, member_id, ts (UTC epoch seconds), kind ('sale' | 'refund'), cents (int)
- members:   member_id, joined_ts (UTC epoch seconds)
- points:    member_id, earned, redeemed (net points, already summed per member)

Every figure is an integer (days, cents, counts) or a float from a deterministic formula, and
quintile scores come from ranks (ties share a score), so the engines agree to the last digit.
A day is the program's local day: (ts + utc_offset) // 86400, counted back from `as_of`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
from ibis.expr.types import BooleanValue, IntegerValue, Table, Value

SECONDS_PER_DAY = 86400

# R score x F score -> named segment (the usual RFM grid: rows are R 5..1, columns F 1..5).
RFM_GRID = {
    5: ("new", "potential", "potential", "champions", "champions"),
    4: ("new", "potential", "potential", "loyal", "loyal"),
    3: ("hibernating", "potential", "potential", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "lost", "at_risk", "at_risk", "cant_lose"),
}


@dataclass(frozen=True)
class Bands:
    """Four ascending cut points: a value above the k-th scores k + 1 (recency: below, as fewer days
    is better). Empty means score by quintile of the members who bought in the window."""

    recency: tuple[int, ...] = ()
    frequency: tuple[int, ...] = ()
    monetary: tuple[int, ...] = ()  # cents


@dataclass(frozen=True)
class Params:
    as_of_day: int  # the local day the metrics describe (days since 1970-01-01); "today"
    utc_offset: int = 8 * 3600  # seconds: the program zone's offset (China has no DST)
    windows: tuple[int, int, int] = (30, 90, 365)  # the short, medium and long windows, in days
    rfm_days: int = 365
    bands: Bands = field(default_factory=Bands)
    # A/B/C/D over the RFM window: purchase days and spend (cents).
    class_frequency_high: int = 6
    class_frequency_low: int = 3
    class_spend_high: int = 300_000
    class_spend_low: int = 80_000
    # Lifecycle (days since the last or first purchase).
    new_days: int = 90
    active_days: int = 90
    mature_tenure_days: int = 365
    mature_purchases: int = 6  # purchase days in the long window
    at_risk_days: int = 180
    lapsed_recent_days: int = 365
    lapsed_mid_days: int = 730
    # Churn early warning.
    overdue_min_purchases: int = 3
    overdue_spread_factor: float = 2.0
    overdue_min_margin_days: int = 7
    cold_recent_days: int = 90
    cold_base_days: int = 365
    cold_ratio: float = 0.3
    cold_min_base_purchases: int = 4


def local_day(ts: IntegerValue, params: Params) -> IntegerValue:
    return (ts + params.utc_offset) // SECONDS_PER_DAY


def member_metrics(purchases: Table, members: Table, points: Table, params: Params) -> Table:
    """One row per member with purchase figures, RFM, class, lifecycle stage and churn flags."""
    days = purchase_days(purchases, params)
    per_member = _purchase_figures(days, params).join(_intervals(days), "member_id", how="left")
    per_member = per_member.join(_refunds(purchases, params), "member_id", how="left")
    everyone = members.select("member_id", joined_day=local_day(members.joined_ts, params))
    everyone = everyone.filter(everyone.joined_day <= params.as_of_day)  # a run for an earlier day
    rows = everyone.join(per_member, "member_id", how="left").join(points, "member_id", how="left")
    rows = rows.select(*_filled(rows))
    rows = _with_rfm(rows, params)
    return rows.mutate(
        value_class=_value_class(rows, params),
        lifecycle_stage=_lifecycle(rows, params),
        overdue=_overdue(rows, params),
        gone_cold=_gone_cold(rows, params),
    )  # unordered: the caller sorts the Arrow result once


def purchase_days(purchases: Table, params: Params) -> Table:
    """Each member's purchase days with the day's sales (cents): two receipts on a day are one purchase."""
    sales = purchases.filter((purchases.kind == "sale") & (local_day(purchases.ts, params) <= params.as_of_day))
    return sales.group_by(member_id=sales.member_id, day=local_day(sales.ts, params)).aggregate(
        cents=sales.cents.sum(), receipts=sales.count()
    )


def _purchase_figures(days: Table, params: Params) -> Table:
    today = params.as_of_day
    short, medium, long_ = params.windows
    cold_base_start = today - params.cold_recent_days - params.cold_base_days

    def within(n: int) -> BooleanValue:
        return days.day > today - n

    days = days.mutate(first=days.day.min().over(group_by="member_id"))
    return days.group_by("member_id").aggregate(
        first_day=days.day.min(),
        last_day=days.day.max(),
        purchase_days=days.count(),
        receipts=days.receipts.sum(),
        sales_cents=days.cents.sum(),
        first_day_cents=days.cents.sum(where=days.day == days.first),
        purchase_days_short=days.count(where=within(short)),
        purchase_days_medium=days.count(where=within(medium)),
        purchase_days_long=days.count(where=within(long_)),
        sales_cents_short=days.cents.sum(where=within(short)),
        sales_cents_medium=days.cents.sum(where=within(medium)),
        sales_cents_long=days.cents.sum(where=within(long_)),
        rfm_frequency=days.count(where=within(params.rfm_days)),
        rfm_sales_cents=days.cents.sum(where=within(params.rfm_days)),
        cold_recent=days.count(where=within(params.cold_recent_days)),
        cold_base=days.count(where=(days.day > cold_base_start) & ~within(params.cold_recent_days)),
    )


def _intervals(days: Table) -> Table:
    """Days between a member's consecutive purchase days: mean, median and spread (the population
    standard deviation). Mean and spread come from exact integer sums, then one division and one
    square root, which every engine rounds the same way; their own `std` differ in the last digits."""
    gaps = days.mutate(gap=days.day - days.day.lag().over(group_by="member_id", order_by="day"))
    gaps = gaps.filter(gaps.gap.notnull())
    sums = gaps.group_by("member_id").aggregate(
        n=gaps.count(),
        total=gaps.gap.sum(),
        squares=(gaps.gap * gaps.gap).sum(),
        interval_median=gaps.gap.cast("float64").median(),
    )
    n = sums.n.cast("float64")
    spread_n2 = (sums.n * sums.squares - sums.total * sums.total).cast("float64")  # n² × variance, exact
    return sums.select(
        "member_id",
        interval_mean=sums.total.cast("float64") / n,
        interval_median=sums.interval_median,
        interval_spread=(spread_n2 / (n * n)).sqrt(),
    )


def _refunds(purchases: Table, params: Params) -> Table:
    refunds = purchases.filter(
        (purchases.kind == "refund") & (local_day(purchases.ts, params) <= params.as_of_day)
    ).mutate(day=local_day(purchases.ts, params))
    today = params.as_of_day
    short, medium, long_ = params.windows

    def within(n: int) -> BooleanValue:
        return refunds.day > today - n

    return refunds.group_by("member_id").aggregate(
        refunds=refunds.count(),
        refund_cents=refunds.cents.sum(),
        refund_cents_short=refunds.cents.sum(where=within(short)),
        refund_cents_medium=refunds.cents.sum(where=within(medium)),
        refund_cents_long=refunds.cents.sum(where=within(long_)),
        rfm_refund_cents=refunds.cents.sum(where=within(params.rfm_days)),
    )


_ZERO_WHEN_MISSING = (
    "purchase_days",
    "receipts",
    "sales_cents",
    "purchase_days_short",
    "purchase_days_medium",
    "purchase_days_long",
    "rfm_frequency",
    "cold_recent",
    "cold_base",
    "refunds",
    "refund_cents",
    "earned",
    "redeemed",
)


def _filled(rows: Table) -> list[Value]:
    """The joined columns with zeros where a member has no purchases, refunds or points, and spend
    net of refunds (a refund counts on its own day)."""

    def zero(name: str) -> IntegerValue:
        return rows[name].fill_null(0)

    out: list[Value] = [rows.member_id, rows.joined_day, rows.first_day, rows.last_day]
    out += [zero(name).name(name) for name in _ZERO_WHEN_MISSING]
    for window in ("short", "medium", "long"):
        net = zero(f"sales_cents_{window}") - zero(f"refund_cents_{window}")
        out.append(net.name(f"spend_cents_{window}"))
    out.append((zero("sales_cents") - zero("refund_cents")).name("spend_cents"))
    out.append((zero("rfm_sales_cents") - zero("rfm_refund_cents")).name("rfm_monetary"))
    out.append(zero("first_day_cents").name("first_day_cents"))
    out += [rows.interval_mean, rows.interval_median, rows.interval_spread]
    return out


def _with_rfm(rows: Table, params: Params) -> Table:
    rows = rows.mutate(
        recency_days=params.as_of_day - rows.last_day,
        average_basket_cents=ibis.ifelse(rows.receipts > 0, rows.sales_cents // rows.receipts, None),
    )
    bought = rows.rfm_frequency > 0
    scores = {
        "r_score": _score(rows, "recency_days", params.bands.recency, lower_is_better=True),
        "f_score": _score(rows, "rfm_frequency", params.bands.frequency),
        "m_score": _score(rows, "rfm_monetary", params.bands.monetary),
    }
    rows = rows.mutate(**{name: ibis.ifelse(bought, score, None) for name, score in scores.items()})
    return rows.mutate(rfm_segment=_rfm_segment(rows))


def _score(rows: Table, column: str, cuts: tuple[int, ...], *, lower_is_better: bool = False) -> IntegerValue:
    value = rows[column]
    if cuts:
        passed = [(value < cut) if lower_is_better else (value > cut) for cut in cuts]
        return sum((p.cast("int64") for p in passed), ibis.literal(1, "int64"))
    # Quintile by rank among the members who bought in the window: equal values share a score.
    bought = rows.rfm_frequency > 0
    order = ibis.desc(value) if lower_is_better else value
    rank = ibis.rank().over(group_by=bought, order_by=order)
    count = rows.count().over(group_by=bought)
    return (rank * 5 // count + 1).cast("int64")


def _rfm_segment(rows: Table) -> Value:
    branches: list[tuple[Any, str]] = []
    for r, by_f in RFM_GRID.items():
        for f, name in enumerate(by_f, start=1):
            branches.append(((rows.r_score == r) & (rows.f_score == f), name))
    return ibis.cases(*branches, else_=ibis.null("string"))


def _value_class(rows: Table, params: Params) -> Value:
    """Seed 004: A buys often and much, B a little less of both, C spends but seldom, D the rest."""
    f, m = rows.rfm_frequency, rows.rfm_monetary
    return ibis.cases(
        (f == 0, ibis.null("string")),
        ((f >= params.class_frequency_high) & (m >= params.class_spend_high), "A"),
        ((f >= params.class_frequency_low) & (m >= params.class_spend_low), "B"),
        (m >= params.class_spend_low, "C"),
        else_="D",
    )


def _lifecycle(rows: Table, params: Params) -> Value:
    silent = rows.recency_days
    tenure = params.as_of_day - rows.first_day
    return ibis.cases(
        (rows.purchase_days == 0, "prospect"),
        ((silent <= params.active_days) & (tenure < params.new_days), "new"),
        (
            (silent <= params.active_days)
            & (tenure >= params.mature_tenure_days)
            & (rows.purchase_days_long >= params.mature_purchases),
            "mature",
        ),
        (silent <= params.active_days, "active"),
        (silent <= params.at_risk_days, "at_risk"),
        (silent <= params.lapsed_recent_days, "lapsed_recent"),
        (silent <= params.lapsed_mid_days, "lapsed_mid"),
        else_="dormant",
    )


def _overdue(rows: Table, params: Params) -> BooleanValue:
    """Silent for longer than the member's own usual interval allows (seed 000's gas refill)."""
    margin = ibis.greatest(params.overdue_spread_factor * rows.interval_spread, params.overdue_min_margin_days)
    allowed = rows.interval_median + margin
    return ((rows.purchase_days >= params.overdue_min_purchases) & (rows.recency_days > allowed)).fill_null(False)


def _gone_cold(rows: Table, params: Params) -> BooleanValue:
    """The purchase rate of the recent period fell under a share of the member's earlier rate."""
    # Cast first: PostgreSQL divides integers as integers.
    recent_rate = rows.cold_recent.cast("float64") / params.cold_recent_days
    base_rate = rows.cold_base.cast("float64") / params.cold_base_days
    return (rows.cold_base >= params.cold_min_base_purchases) & (recent_rate < params.cold_ratio * base_rate)


def categories_bought(lines: Table, params: Params) -> Table:
    """Distinct (member, category) pairs of sales up to the day: lines has member_id, ts, category."""
    lines = lines.filter((local_day(lines.ts, params) <= params.as_of_day) & (lines.category != ""))
    # group_by, not select().distinct(): Ibis 12 compiles the latter with the filter's columns inside
    # the DISTINCT on PostgreSQL.
    pairs = lines.group_by(["member_id", "category"]).aggregate(lines=lines.count())
    return pairs.select("member_id", "category")
