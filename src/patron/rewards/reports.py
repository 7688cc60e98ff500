"""Read-only figures for the rewards' console: counts per coupon batch, the coupon report (issued,
redeemed, discount given, the orders and sales that used them, uses per day) and the points mall
report (orders and points per reward and per month, the top rewards, low stock).

Counts are COUNT queries over the rows, never the batches' `issued_count` / `redeemed_count`
counters (those are kept only where a limit needs them). A use of a coupon counts while it is live
(not undone at the till or by a refund).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from patron.core import clock
from patron.members.models import Transaction, TransactionKind
from patron.rewards.models import (
    Coupon,
    CouponBatch,
    CouponRedemption,
    CouponStatus,
    OrderStatus,
    RedemptionOrder,
    Reward,
)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
DAYS = 90  # uses per day over this many local days, today included
MONTHS = 12
TOP = 10
LOW_STOCK = 10  # a reward with this many left or fewer is low
SPENT = (OrderStatus.CONFIRMED, OrderStatus.FULFILLED)  # orders whose points are spent


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(CENT)


def _count_of(qs: QuerySet[Any]) -> Coalesce:
    """COUNT(*) of `qs` per outer batch, as a subquery (two joins in one query would multiply)."""
    counted = qs.filter(batch=OuterRef("pk")).order_by().values("batch").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def live_uses() -> QuerySet[CouponRedemption]:
    return CouponRedemption.objects.filter(reversed_at__isnull=True)


def batches_with_counts(batches: QuerySet[CouponBatch] | None = None) -> QuerySet[CouponBatch]:
    """Batches with `codes` (coupons made), `issued` (given to a member), `redeemed` (live uses)."""
    batches = batches if batches is not None else CouponBatch.objects.all()
    return batches.annotate(
        codes=_count_of(Coupon.objects.all()),
        issued=_count_of(Coupon.objects.filter(issued_at__isnull=False)),
        redeemed=_count_of(live_uses()),
    )


def status_counts(batch: CouponBatch) -> dict[str, int]:
    """Coupons of the batch per status (every status listed, zero included)."""
    counts = dict.fromkeys(CouponStatus.values, 0)
    rows = Coupon.objects.filter(batch=batch).order_by().values_list("status").annotate(n=Count("pk"))
    for status, n in rows:
        counts[status] = n
    return counts


# =========================================================================== the coupon report


@dataclass(frozen=True)
class BatchFigures:
    batch: CouponBatch
    issued: int
    redeemed: int
    discount: Decimal  # given by its live uses
    revenue: Decimal  # the order amounts the tills sent with those uses
    sales: Decimal  # the recorded sales those uses were made on (store + receipt number)
    matched: int  # how many such sales were found

    @property
    def rate(self) -> Decimal | None:
        """Uses per coupon issued, in percent (None before any is issued)."""
        if not self.issued:
            return None
        return (Decimal(self.redeemed) * 100 / self.issued).quantize(Decimal("0.1"))


def _sales_per_batch() -> dict[int, tuple[Decimal, int]]:
    """Per batch, the amount and number of the distinct recorded sales its live uses were made on:
    a use names its sale by (store, receipt number), the key a sale is recorded under."""
    qn = connection.ops.quote_name
    uses, sales = CouponRedemption._meta.db_table, Transaction._meta.db_table
    sql = (
        f"SELECT u.batch_id, SUM(t.{qn('amount')}), COUNT(*) FROM "
        f"(SELECT DISTINCT batch_id, store_id, sale_external_id FROM {qn(uses)} "
        f"WHERE reversed_at IS NULL AND sale_external_id <> '') u "
        f"JOIN {qn(sales)} t ON t.store_id = u.store_id AND t.external_id = u.sale_external_id AND t.kind = %s "
        "GROUP BY u.batch_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [TransactionKind.SALE.value])
        return {batch_id: (_money(amount), int(n)) for batch_id, amount, n in cursor.fetchall()}


def coupon_report() -> list[BatchFigures]:
    """One row per batch, newest first."""
    sums: dict[int, dict[str, Any]] = {
        row["batch_id"]: dict(row)
        for row in live_uses()
        .order_by()
        .values("batch_id")
        .annotate(discount=Sum("discount"), revenue=Sum("order_amount"))
    }
    sales = _sales_per_batch()
    rows = []
    for batch in batches_with_counts().order_by("-created_at", "-id"):
        got = sums.get(batch.pk, {})
        amount, matched = sales.get(batch.pk, (ZERO, 0))
        rows.append(
            BatchFigures(
                batch=batch,
                issued=batch.issued,  # type: ignore[attr-defined]
                redeemed=batch.redeemed,  # type: ignore[attr-defined]
                discount=_money(got.get("discount")),
                revenue=_money(got.get("revenue")),
                sales=amount,
                matched=matched,
            )
        )
    return rows


def coupon_totals(rows: list[BatchFigures]) -> dict[str, Any]:
    issued = sum(r.issued for r in rows)
    redeemed = sum(r.redeemed for r in rows)
    return {
        "issued": issued,
        "redeemed": redeemed,
        "rate": (Decimal(redeemed) * 100 / issued).quantize(Decimal("0.1")) if issued else None,
        "discount": sum((r.discount for r in rows), ZERO),
        "revenue": sum((r.revenue for r in rows), ZERO),
        "sales": sum((r.sales for r in rows), ZERO),
    }


def uses_per_day(days: int = DAYS) -> list[dict[str, Any]]:
    """Live coupon uses and the discount they gave per local day, oldest first, every day listed."""
    today = clock.local_today()
    first = today - dt.timedelta(days=days - 1)
    rows = (
        live_uses()
        .filter(redeemed_at__gte=clock.local_midnight(first))
        .annotate(day=TruncDate("redeemed_at", tzinfo=clock.member_zone()))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"), discount=Sum("discount"))
    )
    by_day: dict[dt.date, dict[str, Any]] = {row["day"]: dict(row) for row in rows}
    out = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        row = by_day.get(day, {})
        out.append({"day": day.isoformat(), "redemptions": row.get("n", 0), "discount": _money(row.get("discount"))})
    return out


# =========================================================================== the mall report


def _spent_orders() -> QuerySet[RedemptionOrder]:
    return RedemptionOrder.objects.filter(status__in=SPENT)


def mall_by_reward() -> list[dict[str, Any]]:
    """Per reward with any order: orders and quantity whose points were spent, the points and cash,
    and orders cancelled; most points first."""
    rows = (
        RedemptionOrder.objects.order_by()
        .values("reward_id")
        .annotate(
            orders=Count("pk", filter=Q(status__in=SPENT)),
            quantity=Coalesce(Sum("quantity", filter=Q(status__in=SPENT)), 0),
            points=Coalesce(Sum("points", filter=Q(status__in=SPENT)), 0),
            cash=Sum("cash", filter=Q(status__in=SPENT)),
            cancelled=Count("pk", filter=Q(status=OrderStatus.CANCELLED)),
            placed=Count("pk", filter=Q(status=OrderStatus.PLACED)),
        )
    )
    rewards = Reward.objects.in_bulk([row["reward_id"] for row in rows])
    out = [
        {
            "reward": rewards[row["reward_id"]],
            "orders": row["orders"],
            "quantity": row["quantity"],
            "points": row["points"],
            "cash": _money(row["cash"]),
            "cancelled": row["cancelled"],
            "placed": row["placed"],
        }
        for row in rows
    ]
    out.sort(key=lambda r: (-r["points"], -r["orders"], r["reward"].code))
    return out


def top_rewards(rows: list[dict[str, Any]], n: int = TOP) -> list[dict[str, Any]]:
    """The rewards redeemed most (by quantity), for the chart."""
    ranked = sorted((r for r in rows if r["quantity"]), key=lambda r: (-r["quantity"], -r["points"], r["reward"].code))
    return ranked[:n]


def mall_by_month(months: int = MONTHS) -> list[dict[str, Any]]:
    """Orders, quantity and points spent per local month (by when the order was placed), the last
    `months` months, oldest first, every month listed."""
    first = clock.local_today().replace(day=1)
    for _i in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    rows = (
        _spent_orders()
        .filter(placed_at__gte=clock.local_midnight(first))
        .annotate(month=TruncMonth("placed_at", tzinfo=clock.member_zone()))
        .order_by()
        .values("month")
        .annotate(orders=Count("pk"), quantity=Sum("quantity"), points=Sum("points"))
    )
    by_month: dict[str, dict[str, Any]] = {row["month"].strftime("%Y-%m"): dict(row) for row in rows}
    out = []
    month = first
    for _i in range(months):
        key = month.strftime("%Y-%m")
        row = by_month.get(key, {})
        out.append(
            {
                "month": key,
                "orders": row.get("orders", 0),
                "quantity": row.get("quantity") or 0,
                "points": row.get("points") or 0,
            }
        )
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def low_stock(threshold: int = LOW_STOCK) -> list[Reward]:
    """Active rewards with limited stock at `threshold` or fewer, the emptiest first."""
    return list(
        Reward.objects.filter(is_active=True, stock__isnull=False, stock__lte=threshold)
        .select_related("category")
        .order_by("stock", "code")
    )
