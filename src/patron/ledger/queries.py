"""Reading the ledger: balances, lots, expiring points, statements, holds, finance figures."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncMonth

from patron.core import clock
from patron.ledger.models import (
    Account,
    AccountKind,
    Adjustment,
    AdjustmentStatus,
    Hold,
    HoldStatus,
    Journal,
    Lot,
    Posting,
)
from patron.members.models import Member


@dataclass
class Balance:
    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0  # ≤ 0
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """What the member holds in all: available + pending + held − owed."""
        return self.available + self.pending + self.held + self.debt

    def as_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "pending": self.pending,
            "held": self.held,
            "owed": -self.debt,
            "total": self.total,
            "by_type": self.by_type,
        }


def balance(member: Member) -> Balance:
    result = Balance()
    for kind, point_type, amount in Account.objects.filter(member=member).values_list("kind", "point_type", "balance"):
        setattr(result, kind, getattr(result, kind) + amount)
        result.by_type.setdefault(point_type, {k: 0 for k in ("available", "pending", "held", "debt")})[kind] = amount
    return result


def open_lots(member: Member) -> QuerySet[Lot]:
    return Lot.objects.filter(member=member, remaining__gt=0).order_by(F("expires_at").asc(nulls_last=True), "id")


@dataclass(frozen=True)
class Expiring:
    date: dt.date
    points: int


def expiring(member: Member, days: int = 30, now: dt.datetime | None = None) -> list[Expiring]:
    """Points that will expire within `days`, by local expiry date, for warnings."""
    now = now or clock.now()
    rows = (
        Lot.objects.filter(
            member=member, remaining__gt=0, expires_at__gt=now, expires_at__lte=now + dt.timedelta(days=days)
        )
        .values_list("expires_at", "remaining")
        .order_by("expires_at")
    )
    by_day: dict[dt.date, int] = defaultdict(int)
    for expires_at, remaining in rows:
        assert expires_at is not None  # filtered above
        by_day[expires_at.astimezone(clock.member_zone()).date()] += remaining
    return [Expiring(day, points) for day, points in sorted(by_day.items())]


def journals(member: Member) -> QuerySet[Journal]:
    return (
        Journal.objects.filter(member=member)
        .select_related("transaction", "transaction__store")
        .order_by("-created_at", "-id")
    )


@dataclass
class StatementLine:
    journal: Journal
    points: int
    balance_after: int


@dataclass
class Statement:
    member: Member
    start: dt.date
    end: dt.date
    opening: int
    closing: int
    lines: list[StatementLine]
    totals: dict[str, int]


def statement(member: Member, start: dt.date, end: dt.date) -> Statement:
    """The 积分对账单: opening balance, every journal in [start, end] (local dates), closing balance."""
    zone = clock.member_zone()
    since = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    opening = Journal.objects.filter(member=member, created_at__lt=since).aggregate(s=Sum("points"))["s"] or 0
    running = opening
    lines = []
    totals: dict[str, int] = defaultdict(int)
    in_period = Journal.objects.filter(member=member, created_at__gte=since, created_at__lt=until).select_related(
        "transaction", "transaction__store"
    )
    for journal in in_period.order_by("created_at", "id"):
        running += journal.points
        totals[journal.kind] += journal.points
        lines.append(StatementLine(journal, journal.points, running))
    return Statement(member, start, end, opening, running, lines, dict(totals))


def holds(member: Member, *, open_only: bool = False) -> QuerySet[Hold]:
    rows = Hold.objects.filter(member=member).order_by("-created_at")
    return rows.filter(status=HoldStatus.OPEN) if open_only else rows


def adjustments_awaiting() -> QuerySet[Adjustment]:
    return Adjustment.objects.filter(status=AdjustmentStatus.AWAITING).select_related("member").order_by("requested_at")


def member_adjustments(member: Member) -> QuerySet[Adjustment]:
    return Adjustment.objects.filter(member=member).order_by("-requested_at")


# --------------------------------------------------------------------------- finance


@dataclass(frozen=True)
class Liability:
    issued: int
    reversed: int
    redeemed: int
    returned: int
    expired: int
    adjusted: int  # net: added − removed
    written_off: int
    outstanding: int  # what members hold (available + pending + held − owed)

    @property
    def by_movements(self) -> int:
        """issued − reversed − redeemed + returned − expired ± adjusted + written off."""
        return (
            self.issued
            - self.reversed
            - self.redeemed
            + self.returned
            - self.expired
            + self.adjusted
            + self.written_off
        )


def liability() -> Liability:
    """The program's outstanding points, and the movements that add up to it."""
    postings = Posting.objects.filter(account__member__isnull=True)
    issuance = postings.filter(account__kind=AccountKind.ISSUANCE)
    redemption = postings.filter(account__kind=AccountKind.REDEMPTION)

    def total(rows: QuerySet[Posting]) -> int:
        return rows.aggregate(s=Sum("amount"))["s"] or 0

    outstanding = Account.objects.filter(member__isnull=False).aggregate(s=Sum("balance"))["s"] or 0
    return Liability(
        issued=-total(issuance.filter(amount__lt=0)),
        reversed=total(issuance.filter(amount__gt=0)),
        redeemed=total(redemption.filter(amount__gt=0)),
        returned=-total(redemption.filter(amount__lt=0)),
        expired=total(postings.filter(account__kind=AccountKind.EXPIRY)),
        adjusted=-total(postings.filter(account__kind=AccountKind.ADJUSTMENT)),
        written_off=-total(postings.filter(account__kind=AccountKind.CLAWBACK)),
        outstanding=outstanding,
    )


def monthly_movements(months: int = 12) -> list[dict[str, Any]]:
    """Per month (member time zone): points issued, redeemed, expired, and members who earned."""
    since = clock.now() - dt.timedelta(days=31 * months)
    rows = (
        Posting.objects.filter(account__member__isnull=True, journal__created_at__gte=since)
        .annotate(month=TruncMonth("journal__created_at", tzinfo=clock.member_zone()))
        .values("month", "account__kind")
        .annotate(s=Sum("amount"))
        .order_by("month")
    )
    by_month: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        by_month[month][row["account__kind"]] += row["s"]
    out = []
    for month, sums in sorted(by_month.items()):
        out.append(
            {
                "month": month.strftime("%Y-%m"),
                "issued_net": -sums.get(AccountKind.ISSUANCE, 0),
                "redeemed_net": sums.get(AccountKind.REDEMPTION, 0),
                "expired": sums.get(AccountKind.EXPIRY, 0),
                "adjusted": -sums.get(AccountKind.ADJUSTMENT, 0),
                "written_off": -sums.get(AccountKind.CLAWBACK, 0),
            }
        )
    return out


def member_counts() -> dict[str, int]:
    return {
        "with_points": Account.objects.filter(kind=AccountKind.AVAILABLE, balance__gt=0)
        .values("member")
        .distinct()
        .count(),
        "owing": Account.objects.filter(kind=AccountKind.DEBT, balance__lt=0).values("member").distinct().count(),
        "open_holds": Hold.objects.filter(status=HoldStatus.OPEN).aggregate(n=Count("id"))["n"],
    }
