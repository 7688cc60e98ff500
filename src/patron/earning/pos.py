"""What a till does with points: earn on a sale, pay with points, refund, reverse a mistaken sale.

A sale recorded anywhere (till, console, API, bulk) earns through `earn_on_sale`, which members
runs inside the transaction that records the sale (a transaction hook), so a sale and its points
commit together or not at all. Refunds take points back through the ledger's own hook.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.errors import ValidationFailed
from patron.earning import engine, services
from patron.ledger import program
from patron.ledger import services as ledger
from patron.ledger.models import JournalKind
from patron.members import services as members
from patron.members.models import Member, Transaction, TransactionKind


def basket_for(txn: Transaction) -> engine.Basket:
    lines = tuple(
        engine.BasketLine(sku=line.sku, category=line.category, quantity=line.quantity, amount=line.amount)
        for line in txn.lines.all()
    )
    return engine.Basket(
        store_code=txn.store.code,
        channel=txn.channel,
        at=txn.occurred_at,
        amount=txn.amount,
        currency=txn.currency,
        lines=lines,
    )


def earn_on_sale(txn: Transaction) -> None:
    """The transaction hook: a new sale earns what the rules give, pending for the return window."""
    if txn.kind != TransactionKind.SALE:
        return
    quote = services.quote(txn.member, basket_for(txn))
    if quote.total > 0:
        services.do_earn_for_quote(txn.member, quote, transaction_=txn, pending=True)


# --------------------------------------------------------------------------- outcomes for the till


@dataclass(frozen=True)
class SaleOutcome:
    transaction: Transaction
    created: bool
    earned: int
    pending: bool
    rules: list[dict[str, Any]]
    redeemed: int
    paid_value: Decimal


def sale_outcome(txn: Transaction, created: bool) -> SaleOutcome:
    """What the sale earned and what points paid for it, from its journals (so a replay answers
    exactly as the first call did). A sale recorded in this request has them in hand already."""
    earned, rules, pending = 0, [], False
    redeemed = 0
    prefetch_related_objects([txn], "journals__lots")
    for journal in sorted(txn.journals.all(), key=lambda j: j.pk):
        if journal.kind == JournalKind.EARN:
            earned += journal.points
            rules.extend(journal.detail.get("rules", []))
            pending = pending or any(lot.pending for lot in journal.lots.all())
        elif journal.kind == JournalKind.REDEEM:
            redeemed += -journal.points
    rate = program.current().points_per_currency_unit
    return SaleOutcome(txn, created, earned, pending, rules, redeemed, points_value(redeemed, rate))


def points_value(points: int, rate: int) -> Decimal:
    return (Decimal(points) / Decimal(rate)).quantize(Decimal("0.01"))


@transaction.atomic(savepoint=False)  # the API's write() block has the savepoint a refusal rolls back to
def do_sale(*, data: members.SaleInput, pay_with_points: int = 0) -> SaleOutcome:
    """Record a sale (which earns through the hook) and optionally pay part of it with points."""
    txn, created = members.do_record_sale(data=data)
    if created and pay_with_points:
        _check_payment_fits(txn, pay_with_points)
        ledger.do_redeem(
            member=txn.member,
            points=pay_with_points,
            purpose=program.Purpose.PAYMENT,
            transaction_=txn,
            memo=txn.external_id,
        )
    return sale_outcome(txn, created)


def _check_payment_fits(txn: Transaction, points: int) -> None:
    value = points_value(points, program.current().points_per_currency_unit)
    if value > txn.amount:
        raise ValidationFailed(
            _("Points worth %(v)s cannot pay for a sale of %(a)s.") % {"v": value, "a": txn.amount},
            code="payment_exceeds_sale",
            fields={"pay_with_points": _("too many")},
        )


@dataclass(frozen=True)
class RefundOutcome:
    transaction: Transaction
    created: bool
    taken_back: int
    returned: int


def refund_outcome(txn: Transaction, created: bool) -> RefundOutcome:
    taken = returned = 0
    prefetch_related_objects([txn], "journals")
    for journal in txn.journals.all():
        if journal.kind == JournalKind.CLAWBACK:
            taken += -journal.points
        elif journal.kind == JournalKind.RESTORE:
            returned += journal.points
    return RefundOutcome(txn, created, taken, returned)


@transaction.atomic
def do_refund(
    *,
    original: Transaction,
    external_id: str,
    amount: Decimal,
    occurred_at: dt.datetime,
    lines: list[members.LineInput] | None = None,
) -> RefundOutcome:
    txn, created = members.do_record_refund(
        original=original, external_id=external_id, amount=amount, occurred_at=occurred_at, lines=lines or []
    )
    return refund_outcome(txn, created)


@transaction.atomic
def do_reverse_sale(*, original: Transaction, external_id: str, reason: str) -> RefundOutcome:
    """A sale rung up by mistake: refund what is left of it, which takes back its points and
    returns the points spent on it. The sale and its journals stay on record."""
    if not (reason or "").strip():
        raise ValidationFailed(_("Give a reason."), code="reason_required", fields={"reason": _("required")})
    left = original.amount - members.refunded_so_far(original)
    existing = Transaction.objects.filter(store=original.store, external_id=external_id).first()
    if existing is not None:  # a retry of this reversal
        return refund_outcome(existing, False)
    if left <= 0:
        raise ValidationFailed(_("This sale was already refunded in full."), code="already_refunded")
    outcome = do_refund(original=original, external_id=external_id, amount=left, occurred_at=clock.now())
    record_audit(
        "sale.reverse",
        obj=original.member,
        after={"sale": original.pk, "refund": outcome.transaction.pk},
        reason=reason,
    )
    return outcome


def find_sale(store_id: int, external_id: str) -> Transaction | None:
    return (
        Transaction.objects.filter(store_id=store_id, external_id=external_id, kind=TransactionKind.SALE)
        .select_related("member", "store")
        .first()
    )


def member_balance(member: Member) -> dict[str, Any]:
    from patron.ledger import queries

    return queries.balance(member).as_dict()
