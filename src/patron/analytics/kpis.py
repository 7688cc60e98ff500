"""The KPI dashboard's figures (seed 001): read-only, set-based queries for a chosen period.

Every function takes `members`, a queryset of the members it is restricted to (a home store, a tier,
a segment); None means every member. Periods are months, quarters and years of the program's local
calendar (`clock.member_zone()`). Rates are percentages (Decimal, one decimal place) or None when
their base is empty; money is Decimal in the program's currency; points are integers.

Two kinds of figure sit side by side:
- period figures (members, purchases, points) are read from the transactions, the members and the
  ledger for the period asked;
- portrait figures (RFM, value classes, lifecycle stages, the 80/20 view, CLV) are the nightly
  refresh's `MemberMetrics` as of its last run, whatever the period.

Nothing here loops over members in Python: each figure is one aggregate in the database (window
functions for the 80/20 view), so the page stays fast at a million members.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate

from patron.analytics.models import LifecycleStage, LifecycleTransition, MemberMetrics, ValueClass
from patron.core import clock
from patron.ledger.models import Account, AccountKind, Posting
from patron.members.models import LIVE_STATUSES, Member, MemberStatus, Transaction, TransactionKind
from patron.tiers import queries as tier_queries
from patron.tiers.services import live_model

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)
# Applications turned down and duplicates merged away were never members of their own.
NEVER_MEMBERS = (MemberStatus.REJECTED, MemberStatus.MERGED)
COHORTS = 12  # join months in the cohort heat map, and months followed after joining
PARETO_TOP = Decimal("0.2")  # the "top 20%" of the 80/20 view
LORENZ_STEPS = 20  # points of the Lorenz curve: every 5% of buyers
CLV_EDGES = (100, 200, 500, 1000, 2000, 5000, 10000)  # ¥; a histogram bucket between each two


def percent(part: int | Decimal | None, whole: int | Decimal | None) -> Decimal | None:
    if part is None or not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(TENTH)


def money(value: Any) -> Decimal:
    """A sum from the database as Decimal cents (SQLite hands decimal sums back as floats)."""
    return Decimal(str(value if value is not None else 0)).quantize(CENT)


# =========================================================================== periods


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


_MONTHS = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}


@dataclass(frozen=True)
class Period:
    """Local days [start, end): a calendar month, quarter or year."""

    kind: PeriodKind
    start: dt.date

    @property
    def end(self) -> dt.date:
        return _add_months(self.start, _MONTHS[self.kind])

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def since(self) -> dt.datetime:
        return clock.local_midnight(self.start)

    @property
    def until(self) -> dt.datetime:
        return clock.local_midnight(self.end)

    @property
    def key(self) -> str:
        """How the period is named in a URL and on the page: 2026-02, 2026-Q1, 2026."""
        if self.kind == PeriodKind.MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == PeriodKind.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    def previous(self) -> Period:
        return Period(self.kind, _add_months(self.start, -_MONTHS[self.kind]))

    @classmethod
    def containing(cls, kind: PeriodKind, day: dt.date) -> Period:
        first_month = (day.month - 1) // _MONTHS[kind] * _MONTHS[kind] + 1
        return cls(kind, dt.date(day.year, first_month, 1))

    @classmethod
    def parse(cls, key: str) -> Period | None:
        """The period a key names, or None when it names none."""
        try:
            if len(key) == 4:
                return cls(PeriodKind.YEAR, dt.date(int(key), 1, 1))
            if len(key) == 7 and key[4:6] == "-Q" and key[6] in "1234":
                return cls(PeriodKind.QUARTER, dt.date(int(key[:4]), (int(key[6]) - 1) * 3 + 1, 1))
            if len(key) == 7 and key[4] == "-":
                return cls(PeriodKind.MONTH, dt.date(int(key[:4]), int(key[5:]), 1))
        except ValueError:
            return None
        return None


def last_complete(kind: PeriodKind, today: dt.date | None = None) -> Period:
    return Period.containing(kind, today or clock.local_today()).previous()


def recent_periods(kind: PeriodKind, count: int, today: dt.date | None = None) -> list[Period]:
    """The last `count` complete periods of a kind, newest first."""
    periods = [last_complete(kind, today)]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods


# =========================================================================== members and purchases


def _scope(members: QuerySet[Member] | None) -> QuerySet[Member]:
    return Member.objects.all() if members is None else members


def _of_members(rows: QuerySet[Any], members: QuerySet[Member] | None, field: str = "member") -> QuerySet[Any]:
    return rows if members is None else rows.filter(**{f"{field}__in": members.values("pk")})


def members_total(period: Period, members: QuerySet[Member] | None = None) -> int:
    """Live members (by today's status) who had joined by the end of the period."""
    return _scope(members).filter(status__in=LIVE_STATUSES, joined_at__lt=period.until).count()


def new_members(period: Period, members: QuerySet[Member] | None = None) -> int:
    """Members who joined in the period, whatever became of them since (closed ones too)."""
    joined = _scope(members).filter(joined_at__gte=period.since, joined_at__lt=period.until)
    return joined.exclude(status__in=NEVER_MEMBERS).count()


def _fixed_offset(period: Period) -> dt.timedelta | None:
    """The zone's UTC offset if it stays the same through the period (Asia/Shanghai's always does)."""
    zone, day = clock.member_zone(), period.start
    offsets = set()
    while day <= period.end:
        offsets.add(dt.datetime.combine(day, dt.time(), tzinfo=zone).utcoffset())
        day += dt.timedelta(days=1)
    return offsets.pop() if len(offsets) == 1 else None


def _local_day(field: str, period: Period) -> Func:
    """A timestamp's local date in the database. PostgreSQL converts in the zone itself; SQLite
    would call Django's Python function per row, so while the offset is fixed it shifts in SQL."""
    offset = _fixed_offset(period)
    if connection.vendor == "sqlite" and offset is not None:
        minutes = int(offset.total_seconds() // 60)
        return Func(F(field), Value(f"{minutes:+d} minutes"), function="date", output_field=CharField())
    return TruncDate(field, tzinfo=clock.member_zone())


@dataclass(frozen=True)
class Buyers:
    """Who bought in a period, against the period before."""

    active: int  # members with at least one sale in the period
    active_before: int  # members with a sale in the previous period
    retained: int  # members with a sale in both
    repeat: int  # members with sales on two or more local days of the period

    @property
    def retention_rate(self) -> Decimal | None:
        """Share of the previous period's active members who bought again in this period (%)."""
        return percent(self.retained, self.active_before)

    @property
    def churn_rate(self) -> Decimal | None:
        """Share of the previous period's active members who did not buy in this period (%)."""
        retention = self.retention_rate
        return None if retention is None else HUNDRED - retention

    @property
    def repeat_purchase_rate(self) -> Decimal | None:
        """Share of the period's buyers who bought on two or more local days in it (%)."""
        return percent(self.repeat, self.active)


def buyers(period: Period, members: QuerySet[Member] | None = None) -> Buyers:
    """One pass over the sales of the period and the one before: grouped by member in the database
    (sales before and in the period, distinct local purchase days in it), then counted over the
    groups, so the four figures cost one scan of the two periods' sales."""
    before = period.previous()
    now = Q(occurred_at__gte=period.since)
    day = _local_day("occurred_at", period)
    per_member = (
        Transaction.objects.filter(
            kind=TransactionKind.SALE, occurred_at__gte=before.since, occurred_at__lt=period.until
        )
        .order_by()
        .values("member_id")
        .annotate(
            before=Count("pk", filter=~now),
            now=Count("pk", filter=now),
            days=Count(day, distinct=True, filter=now),
        )
    )
    inner, params = _of_members(per_member, members).query.sql_with_params()
    qn = connection.ops.quote_name
    b, n, d = qn("before"), qn("now"), qn("days")
    sql = (
        f"SELECT COALESCE(SUM(CASE WHEN {n} > 0 THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {b} > 0 THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {n} > 0 AND {b} > 0 THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {d} >= 2 THEN 1 ELSE 0 END), 0) FROM ({inner}) per_member"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        active, active_before, retained, repeat = (int(v) for v in cursor.fetchone())
    return Buyers(active=active, active_before=active_before, retained=retained, repeat=repeat)


def active_members(period: Period, members: QuerySet[Member] | None = None) -> int:
    """Members with at least one sale in the period."""
    return buyers(period, members).active


def retained_members(period: Period, members: QuerySet[Member] | None = None) -> int:
    """Members active in the previous period who are active again in this one."""
    return buyers(period, members).retained


def retention_rate(period: Period, members: QuerySet[Member] | None = None) -> Decimal | None:
    return buyers(period, members).retention_rate


def churn_rate(period: Period, members: QuerySet[Member] | None = None) -> Decimal | None:
    return buyers(period, members).churn_rate


def repeat_buyers(period: Period, members: QuerySet[Member] | None = None) -> int:
    """The period's buyers with sales on two or more local days in it."""
    return buyers(period, members).repeat


def repeat_purchase_rate(period: Period, members: QuerySet[Member] | None = None) -> Decimal | None:
    return buyers(period, members).repeat_purchase_rate


def net_sales(period: Period, members: QuerySet[Member] | None = None) -> Decimal:
    """Sales less refunds in the period (a refund counts when it happens, as in the nightly metrics)."""
    rows = Transaction.objects.filter(occurred_at__gte=period.since, occurred_at__lt=period.until).order_by()
    sums = _of_members(rows, members).aggregate(
        sold=Sum("amount", filter=Q(kind=TransactionKind.SALE)),
        refunded=Sum("amount", filter=Q(kind=TransactionKind.REFUND)),
    )
    return money(sums["sold"]) - money(sums["refunded"])


def arpu(period: Period, members: QuerySet[Member] | None = None) -> Decimal | None:
    """Net sales per active member in the period."""
    active = active_members(period, members)
    return (net_sales(period, members) / active).quantize(CENT) if active else None


def member_revenue_share(period: Period, members: QuerySet[Member] | None = None) -> Decimal | None:
    """The members' net sales against all recorded net sales in the period (%).

    Every Transaction carries a member (the POS records member sales only) and no store totals are
    imported, so over all members this is 100% by construction, and the page says so; restricted to
    a store's members, a tier or a segment it is the share of the program's revenue they bring."""
    return percent(net_sales(period, members), net_sales(period))


# =========================================================================== points


@dataclass(frozen=True)
class PointsMoved:
    issued: int  # net of reversals
    redeemed: int  # net of points returned after a refund
    expired: int
    program_total: int  # every program-side posting of the period: what members' holdings fell by

    @property
    def redemption_rate(self) -> Decimal | None:
        """Points redeemed per point issued in the period (%)."""
        return percent(self.redeemed, self.issued) if self.issued > 0 else None


def _program_accounts() -> dict[int, str]:
    return dict(Account.objects.filter(member__isnull=True).values_list("pk", "kind"))


def _program_postings(
    since: dt.datetime, until: dt.datetime | None, members: QuerySet[Member] | None
) -> QuerySet[Posting]:
    """Program-side postings of journals written in [since, until), picked by account id (a join on
    the account's kind would walk all of the program's postings, half of the table)."""
    program = list(_program_accounts())
    rows: QuerySet[Posting]
    if connection.vendor == "sqlite":
        # SQLite would go in through the account index, then look up every program posting's journal;
        # `account_id + 0` serves no index, so it starts from the journals' time index instead
        # (measured at 100,000 members: 0.3 s → 0.17 s for a month, 0.3 s → 5 ms since yesterday).
        rows = Posting.objects.alias(account_unindexed=F("account_id") + 0).filter(account_unindexed__in=program)
    else:
        rows = Posting.objects.filter(account_id__in=program)  # PostgreSQL plans this best as it is
    rows = rows.filter(journal__created_at__gte=since)
    if until is not None:
        rows = rows.filter(journal__created_at__lt=until)
    return _of_members(rows, members, "journal__member").order_by()


def points_moved(period: Period, members: QuerySet[Member] | None = None) -> PointsMoved:
    """The program side of the ledger's postings in the period, signed as the finance page's
    `ledger.queries.monthly_movements` signs them (issuance postings are negative)."""
    kinds = _program_accounts()
    sums: dict[str, int] = {}
    per_account = _program_postings(period.since, period.until, members).values_list("account_id")
    for account_id, total in per_account.annotate(s=Sum("amount")):
        sums[kinds[account_id]] = sums.get(kinds[account_id], 0) + (total or 0)
    return PointsMoved(
        issued=-sums.get(AccountKind.ISSUANCE, 0),
        redeemed=sums.get(AccountKind.REDEMPTION, 0),
        expired=sums.get(AccountKind.EXPIRY, 0),
        program_total=sum(sums.values()),
    )


def outstanding_points(at: dt.datetime, members: QuerySet[Member] | None = None) -> int:
    """What members held at `at` (available + pending + held − owed): the cached balances now, plus
    what the program side took since (each journal's postings sum to zero). Now, over all members,
    this is `ledger.queries.liability()`'s outstanding figure."""
    balances = _of_members(Account.objects.filter(member__isnull=False), members)
    now = balances.aggregate(s=Sum("balance"))["s"] or 0
    taken_since = _program_postings(at, None, members).aggregate(s=Sum("amount"))["s"] or 0
    return int(now + taken_since)


# =========================================================================== the period's figures


@dataclass(frozen=True)
class Figures:
    """The tiles' figures for one period."""

    period: Period
    members_total: int
    new_members: int
    buyers: Buyers
    net_sales: Decimal
    member_revenue_share: Decimal | None
    points: PointsMoved
    outstanding_points: int  # at the end of the period

    @property
    def active_members(self) -> int:
        return self.buyers.active

    @property
    def retention_rate(self) -> Decimal | None:
        return self.buyers.retention_rate

    @property
    def churn_rate(self) -> Decimal | None:
        return self.buyers.churn_rate

    @property
    def repeat_purchase_rate(self) -> Decimal | None:
        return self.buyers.repeat_purchase_rate

    @property
    def arpu(self) -> Decimal | None:
        """Net sales per active member."""
        return (self.net_sales / self.buyers.active).quantize(CENT) if self.buyers.active else None

    @property
    def redemption_rate(self) -> Decimal | None:
        return self.points.redemption_rate


def figures(period: Period, members: QuerySet[Member] | None = None, *, outstanding: int | None = None) -> Figures:
    """Every tile's figure for the period, each counted once. `outstanding` at the period's end may
    be handed in when it is known already (see `compare`)."""
    sales = net_sales(period, members)
    if outstanding is None:
        outstanding = outstanding_points(min(period.until, clock.now()), members)
    return Figures(
        period=period,
        members_total=members_total(period, members),
        new_members=new_members(period, members),
        buyers=buyers(period, members),
        net_sales=sales,
        member_revenue_share=percent(sales, sales if members is None else net_sales(period)),
        points=points_moved(period, members),
        outstanding_points=outstanding,
    )


def compare(period: Period, members: QuerySet[Member] | None = None) -> tuple[Figures, Figures]:
    """The period's figures and the previous period's. What members held at the end of the previous
    period is what they held at the end of this one plus what the program side took in it (every
    journal's postings sum to zero), so the ledger is walked back once instead of twice."""
    now = figures(period, members)
    held_before = now.outstanding_points + now.points.program_total
    return now, figures(period.previous(), members, outstanding=held_before)


# =========================================================================== cohorts


@dataclass(frozen=True)
class Cohort:
    month: dt.date  # the join month
    size: int
    buyers: list[int | None]  # by months since joining (0 = the join month); None: not yet seen
    rates: list[Decimal | None]  # the same as a share of the cohort (%)


def _month_index(field: str, months: list[dt.date]) -> Case:
    """Which of the consecutive `months` a timestamp at or after the first one falls in (0, 1, …),
    by comparing it with each month's start (local midnight, as UTC): exact in any time zone, and
    without a time-zone function per row (on SQLite that is a Python call for each of millions)."""
    starts = [clock.local_midnight(month) for month in months[1:]]
    steps = [When(**{f"{field}__lt": start}, then=Value(i)) for i, start in enumerate(starts)]
    return Case(*steps, default=Value(len(starts)), output_field=IntegerField())


def cohort_retention(
    last_month: dt.date, members: QuerySet[Member] | None = None, cohorts: int = COHORTS
) -> list[Cohort]:
    """Each of the `cohorts` join months up to `last_month` (oldest first): its members and how
    many of them bought in each later month up to `last_month`, counted in the database grouped by
    (join month, purchase month)."""
    first = _add_months(last_month.replace(day=1), -(cohorts - 1))
    months = [_add_months(first, k) for k in range(cohorts)]
    since, until = clock.local_midnight(first), clock.local_midnight(_add_months(months[-1], 1))
    joined = _scope(members).filter(joined_at__gte=since, joined_at__lt=until).exclude(status__in=NEVER_MEMBERS)
    cohort_of = _month_index("joined_at", months)
    sizes = dict(joined.order_by().annotate(cohort=cohort_of).values_list("cohort").annotate(n=Count("pk")))
    sales = Transaction.objects.filter(
        kind=TransactionKind.SALE,
        occurred_at__gte=since,
        occurred_at__lt=until,
        member__joined_at__gte=since,
        member__joined_at__lt=until,
    ).exclude(member__status__in=NEVER_MEMBERS)
    bought = (
        _of_members(sales, members)
        .order_by()
        .annotate(cohort=_month_index("member__joined_at", months), month=_month_index("occurred_at", months))
        .values_list("cohort", "month")
        .annotate(n=Count("member_id", distinct=True))
    )
    cells = {(cohort, month): n for cohort, month, n in bought}
    rows = []
    for index, month in enumerate(months):
        size = sizes.get(index, 0)
        buyers: list[int | None] = [cells.get((index, later), 0) for later in range(index, cohorts)]
        buyers += [None] * index  # months not seen yet
        rates = [None if n is None else percent(n, size) for n in buyers]
        rows.append(Cohort(month=month, size=size, buyers=buyers, rates=rates))
    return rows


# =========================================================================== the last refresh's portrait


def _metrics(members: QuerySet[Member] | None) -> QuerySet[MemberMetrics]:
    return _of_members(MemberMetrics.objects.order_by(), members)


@dataclass(frozen=True)
class RfmCell:
    r: int
    f: int
    members: int
    average_m: Decimal | None  # the mean M score (1–5)
    average_monetary: Decimal | None  # the mean net spend in the RFM window


def rfm_grid(members: QuerySet[Member] | None = None) -> list[RfmCell]:
    """The 25 cells of R × F (5 = best), R descending then F ascending; members who bought in the
    RFM window only (the others have no scores)."""
    rows = (
        _metrics(members)
        .filter(r_score__isnull=False, f_score__isnull=False)
        .values("r_score", "f_score")
        .annotate(n=Count("pk"), m=Avg("m_score"), monetary=Avg("rfm_monetary"))
    )
    found = {(row["r_score"], row["f_score"]): row for row in rows}
    cells = []
    for r in range(5, 0, -1):
        for f in range(1, 6):
            row = found.get((r, f))
            cells.append(
                RfmCell(
                    r=r,
                    f=f,
                    members=row["n"] if row else 0,
                    average_m=Decimal(str(row["m"])).quantize(Decimal("0.01")) if row else None,
                    average_monetary=money(row["monetary"]) if row else None,
                )
            )
    return cells


def lifecycle_stages(members: QuerySet[Member] | None = None) -> list[tuple[str, int]]:
    """Members per lifecycle stage, in the stages' order, every stage listed."""
    counts = dict(_metrics(members).values_list("lifecycle_stage").annotate(n=Count("pk")))
    return [(stage, counts.get(stage, 0)) for stage in LifecycleStage.values]


@dataclass(frozen=True)
class Flow:
    from_stage: str  # "": joined since the run before
    to_stage: str
    members: int


def lifecycle_flows(period: Period, members: QuerySet[Member] | None = None) -> list[Flow]:
    """Stage changes the refreshes recorded in the period, largest first. A member who changed twice
    counts in both flows."""
    rows = LifecycleTransition.objects.filter(day__gte=period.start, day__lt=period.end).order_by()
    counted = (
        _of_members(rows, members)
        .values("from_stage", "to_stage")
        .annotate(n=Count("pk"))
        .order_by("-n", "from_stage", "to_stage")
    )
    return [Flow(row["from_stage"], row["to_stage"], row["n"]) for row in counted]


@dataclass(frozen=True)
class ClassShare:
    value_class: str
    members: int
    member_share: Decimal | None  # of the members with a class (%)
    revenue: Decimal  # their net spend over the long window
    revenue_share: Decimal | None  # of all classed members' net spend over that window (%)


def value_classes(members: QuerySet[Member] | None = None) -> list[ClassShare]:
    """A/B/C/D: members and revenue share per class. Revenue is `spend_long`, the net spend over the
    refresh's long window (365 days by default): the 80/20 view reads the same figure."""
    rows = _metrics(members).exclude(value_class="").values("value_class").annotate(n=Count("pk"), s=Sum("spend_long"))
    found = {row["value_class"]: row for row in rows}
    total_members = sum(row["n"] for row in rows)
    total_revenue = sum((money(row["s"]) for row in rows), ZERO)
    out = []
    for value_class in ValueClass.values:
        row = found.get(value_class, {"n": 0, "s": 0})
        revenue = money(row["s"])
        out.append(
            ClassShare(
                value_class=value_class,
                members=row["n"],
                member_share=percent(row["n"], total_members),
                revenue=revenue,
                revenue_share=percent(revenue, total_revenue) if total_revenue > 0 else None,
            )
        )
    return out


@dataclass(frozen=True)
class Pareto:
    buyers: int  # members who bought in the long window
    top_members: int  # the top 20% of them by net spend, rounded up
    top_share: Decimal | None  # their share of the buyers' net spend (%)
    lorenz: list[tuple[Decimal, Decimal]]  # (cumulative % of buyers, lowest spend first; % of spend)


def _spend_buckets(members: QuerySet[Member] | None) -> list[tuple[int, int, Decimal]]:
    """(bucket, buyers, net spend) for 20 equal slices of the buyers ranked by spend_long, highest
    first (bucket 0 = the top 5%): the ranking is a window function in the database, the slicing a
    GROUP BY over it."""
    ranked = (
        _metrics(members)
        .filter(purchase_days_long__gt=0)
        .annotate(
            rank=Window(RowNumber(), order_by=[F("spend_long").desc(), F("member_id").asc()]),
            buyers=Window(Count("pk")),
        )
        .values("spend_long", "rank", "buyers")
    )
    inner, params = ranked.query.sql_with_params()
    qn = connection.ops.quote_name
    sql = (
        f"SELECT ({qn('rank')} - 1) * {LORENZ_STEPS} / {qn('buyers')} AS bucket, COUNT(*), SUM({qn('spend_long')}) "
        f"FROM ({inner}) ranked GROUP BY 1 ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(bucket), int(n), money(spend)) for bucket, n, spend in cursor.fetchall()]


def pareto(members: QuerySet[Member] | None = None) -> Pareto:
    """The 80/20 view over `spend_long` (see `value_classes`): the share of the net spend the top 20%
    of buyers bring, and the Lorenz curve of the spend, in 5% steps of buyers."""
    buckets = _spend_buckets(members)
    buyers = sum(n for _bucket, n, _spend in buckets)
    total = sum((spend for _bucket, _n, spend in buckets), ZERO)
    top_buckets = int(LORENZ_STEPS * PARETO_TOP)
    # bucket = (rank - 1) * 20 // buyers, so buckets 0–3 hold exactly the ranks ≤ ceil(buyers / 5).
    top = [(n, spend) for bucket, n, spend in buckets if bucket < top_buckets]
    top_spend = sum((spend for _n, spend in top), ZERO)
    by_bucket = {bucket: spend for bucket, _n, spend in buckets}
    lorenz = [(ZERO, ZERO)]
    running = ZERO
    for step in range(1, LORENZ_STEPS + 1):
        running += by_bucket.get(LORENZ_STEPS - step, ZERO)
        share = percent(running, total) if total > 0 else None
        lorenz.append((Decimal(100 * step // LORENZ_STEPS), share if share is not None else ZERO))
    return Pareto(
        buyers=buyers,
        top_members=sum(n for n, _spend in top),
        top_share=percent(top_spend, total) if total > 0 else None,
        lorenz=lorenz,
    )


@dataclass(frozen=True)
class ClvBucket:
    low: int | None  # ¥, inclusive; None: no lower bound
    high: int | None  # ¥, exclusive; None: no upper bound
    members: int


@dataclass(frozen=True)
class ClvDistribution:
    buckets: list[ClvBucket]
    unscored: int  # members the CLV models gave no value (too little history, or too few to fit)


def clv_distribution(members: QuerySet[Member] | None = None) -> ClvDistribution:
    """Members per CLV bucket (edges `CLV_EDGES`), in one aggregate with a filtered count per bucket."""
    edges: list[int | None] = [None, *CLV_EDGES, None]
    bounds = list(itertools.pairwise(edges))
    counts: dict[str, Any] = {"unscored": Count("pk", filter=Q(clv__isnull=True))}
    for index, (low, high) in enumerate(bounds):
        where = Q(clv__isnull=False)
        if low is not None:
            where &= Q(clv__gte=low)
        if high is not None:
            where &= Q(clv__lt=high)
        counts[f"b{index}"] = Count("pk", filter=where)
    got = _metrics(members).aggregate(**counts)
    buckets = [ClvBucket(low, high, got[f"b{i}"]) for i, (low, high) in enumerate(bounds)]
    return ClvDistribution(buckets=buckets, unscored=got["unscored"])


# =========================================================================== tiers


@dataclass(frozen=True)
class TierShare:
    code: str
    name: str
    color: str
    members: int
    share: Decimal | None  # of the live members (%)


def tier_mix(members: QuerySet[Member] | None = None, language: str = "zh-hans") -> list[TierShare]:
    """Live members per tier of the live ladder now, as `tiers.queries.members_at` places them (an
    override counts; members not placed yet sit at the lowest tier). Empty with no live model."""
    live = live_model()
    if live is None:
        return []
    base = _scope(members).filter(status__in=LIVE_STATUSES)
    total = base.count()
    # The lowest tier is everyone else, as `tiers.queries.distribution` counts it: its own query
    # would be an anti-join over every member.
    higher = [(t, tier_queries.members_at(t.code, base).count()) for t in live.config.tiers[1:]]
    lowest = (live.config.tiers[0], total - sum(n for _t, n in higher))
    return [TierShare(t.code, t.display(language), t.color, n, percent(n, total)) for t, n in [lowest, *higher]]


def members_at_tier(code: str, members: QuerySet[Member] | None = None) -> QuerySet[Member]:
    """The tier filter: those members shown at `code` now."""
    return tier_queries.members_at(code, _scope(members))
