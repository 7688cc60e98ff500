"""A member's qualifying activity read from the database, in the shape the engine counts.

`window_on(engine, member_id, day)` builds the `QualifyingWindow` as it stood at the end of local
`day`: the sales of the window, minus the refunds made by then. The live services call it for each
date they judge, so a review done late (the job did not run that night) counts exactly what it
would have counted on time — which is also what the simulator counts.

Qualifying points are the points the sale's EARN journals gave, minus what CLAWBACK journals of its
refunds took back (activity points outside a sale do not qualify).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, Sum

from patron.core import clock
from patron.ledger.models import Journal, JournalKind
from patron.members.models import Transaction, TransactionKind
from patron.tiers.engine import QualifyingWindow, TierEngine


def local_day(at: dt.datetime) -> int:
    return at.astimezone(clock.member_zone()).date().toordinal()


def start_of_day(day: int) -> dt.datetime:
    """Local midnight of `day`, as aware UTC."""
    return clock.local_midnight(dt.date.fromordinal(day))


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def window_on(engine: TierEngine, member_id: int, day: int) -> QualifyingWindow:
    start = engine.window_start(day)
    since, until = start_of_day(start), start_of_day(day + 1)
    # The window's sales and, in the same read, their refunds made by `until` (after every sale).
    rows = list(
        Transaction.objects.filter(member_id=member_id, occurred_at__lt=until)
        .filter(
            Q(kind=TransactionKind.SALE, occurred_at__gte=since)
            | Q(
                kind=TransactionKind.REFUND,
                original__kind=TransactionKind.SALE,
                original__occurred_at__gte=since,
                original__occurred_at__lt=until,
            )
        )
        .order_by("occurred_at", "id")
        .values_list("id", "kind", "original_id", "occurred_at", "amount")
    )
    sales = [(pk, at, amount) for pk, kind, _o, at, amount in rows if kind == TransactionKind.SALE]
    refunds = [(pk, original_id, amount) for pk, kind, original_id, _at, amount in rows if kind != TransactionKind.SALE]
    window = QualifyingWindow()
    window.advance(start)
    if not sales:
        return window
    points = _points([pk for pk, _at, _a in sales], [pk for pk, _o, _a in refunds]) if engine.counts_points else {}
    for pk, at, amount in sales:
        window.add_sale(pk, local_day(at), cents(amount), points.get(pk, 0))
    for pk, original_id, amount in refunds:
        window.refund(original_id, cents(amount), -points.get(pk, 0))
    return window


def _points(sale_ids: list[int], refund_ids: list[int]) -> dict[int, int]:
    """Points per transaction: earned by each sale, taken back (negative) by each refund."""
    rows = (
        Journal.objects.filter(
            Q(kind=JournalKind.EARN, transaction_id__in=sale_ids)
            | Q(kind=JournalKind.CLAWBACK, transaction_id__in=refund_ids)
        )
        .values("transaction_id")
        .annotate(p=Sum("points"))
    )
    return {row["transaction_id"]: row["p"] or 0 for row in rows}
