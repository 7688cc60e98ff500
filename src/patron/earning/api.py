"""The till's API under /api/v1/pos/: quote, earn on a sale, pay with points, hold, refund,
reverse, balance. Every call is signed (ADR 0006); every write takes an Idempotency-Key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from patron.core import clock
from patron.core.api import Caller, idempotent, require_scope
from patron.core.errors import NotFound
from patron.core.schemas import WRITE_ERRORS, ErrorOut, LineIn, WhoIn
from patron.earning import engine, pos, services
from patron.ledger import program
from patron.ledger import queries as ledger_queries
from patron.ledger import services as ledger
from patron.ledger.models import Hold
from patron.members import services as members
from patron.members.models import Member, Transaction

router = Router(tags=["pos"])
activities_router = Router(tags=["activities"])


class QuoteIn(WhoIn):
    store_code: str | None = None
    amount: Decimal = Field(..., gt=0, max_digits=14, decimal_places=2)
    currency: str = Field("CNY", min_length=3, max_length=3)
    channel: Literal["store", "online", "phone"] = "store"
    occurred_at: dt.datetime | None = None
    lines: list[LineIn] = []


class AwardOut(Schema):
    rule_id: int | None
    rule: str
    point_type: str
    points: int
    note: str = ""


class QuoteOut(Schema):
    points: int
    by_type: dict[str, int]
    awards: list[AwardOut]
    notes: list[str]


class SaleIn(QuoteIn):
    external_id: str = Field(..., min_length=1, max_length=64)
    occurred_at: dt.datetime  # type: ignore[assignment]
    pay_with_points: int = Field(0, ge=0, le=10**9)


class BalanceOut(Schema):
    member_no: str
    available: int
    pending: int
    held: int
    owed: int
    total: int
    by_type: dict[str, dict[str, int]]
    expiring: list[dict[str, Any]]


class SaleOut(Schema):
    transaction_id: int
    external_id: str
    amount: Decimal
    currency: str
    points_earned: int
    points_pending: bool
    rules: list[dict[str, Any]]
    points_redeemed: int
    paid_with_points_value: Decimal
    balance: BalanceOut
    replayed: bool


class RedeemIn(WhoIn):
    points: int = Field(..., gt=0, le=10**9)
    purpose: Literal["payment", "reward", "service"] = "payment"
    reference: str = Field("", max_length=100)
    sale_external_id: str | None = Field(None, max_length=64)


class RedeemOut(Schema):
    journal_id: int
    points: int
    value: Decimal
    balance: BalanceOut


class HoldIn(WhoIn):
    points: int = Field(..., gt=0, le=10**9)
    purpose: Literal["payment", "reward", "service"] = "payment"
    reference: str = Field("", max_length=100)


class HoldOut(Schema):
    id: int
    member_no: str
    points: int
    purpose: str
    reference: str
    status: str
    expires_at: dt.datetime


class CommitIn(Schema):
    sale_external_id: str | None = Field(None, max_length=64)


class RefundIn(Schema):
    original_external_id: str = Field(..., min_length=1, max_length=64)
    external_id: str = Field(..., min_length=1, max_length=64)
    store_code: str | None = None
    amount: Decimal = Field(..., gt=0, max_digits=14, decimal_places=2)
    occurred_at: dt.datetime
    lines: list[LineIn] = []


class RefundOut(Schema):
    transaction_id: int
    external_id: str
    original_external_id: str
    amount: Decimal
    points_taken_back: int
    points_returned: int
    balance: BalanceOut
    replayed: bool


class ReverseIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)
    store_code: str | None = None
    external_id: str | None = Field(None, max_length=64)


# --------------------------------------------------------------------------- representation


def balance_out(member: Member, days: int = 30) -> dict[str, Any]:
    soon = ledger_queries.expiring(member, days=days)
    return {
        "member_no": member.member_no,
        **ledger_queries.balance(member).as_dict(),
        "expiring": [{"date": e.date, "points": e.points} for e in soon],
    }


def quote_out(quote: engine.Quote) -> dict[str, Any]:
    return {
        "points": quote.total,
        "by_type": dict(quote.by_type),
        "awards": [
            {"rule_id": a.rule_id, "rule": a.rule_name, "point_type": a.point_type, "points": a.points, "note": a.note}
            for a in quote.awards
        ],
        "notes": list(quote.notes),
    }


def sale_out(outcome: pos.SaleOutcome) -> dict[str, Any]:
    txn = outcome.transaction
    return {
        "transaction_id": txn.pk,
        "external_id": txn.external_id,
        "amount": txn.amount,
        "currency": txn.currency,
        "points_earned": outcome.earned,
        "points_pending": outcome.pending,
        "rules": outcome.rules,
        "points_redeemed": outcome.redeemed,
        "paid_with_points_value": outcome.paid_value,
        "balance": balance_out(txn.member),
        "replayed": not outcome.created,
    }


def refund_out(outcome: pos.RefundOutcome) -> dict[str, Any]:
    txn = outcome.transaction
    return {
        "transaction_id": txn.pk,
        "external_id": txn.external_id,
        "original_external_id": txn.original.external_id if txn.original else "",
        "amount": txn.amount,
        "points_taken_back": outcome.taken_back,
        "points_returned": outcome.returned,
        "balance": balance_out(txn.member),
        "replayed": not outcome.created,
    }


def hold_out(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.pk,
        "member_no": hold.member.member_no,
        "points": hold.points,
        "purpose": hold.purpose,
        "reference": hold.reference,
        "status": hold.status,
        "expires_at": hold.expires_at,
    }


def _member(who: WhoIn) -> Member:
    return members.find_member(**who.lookup())


def _basket(payload: QuoteIn, store_code: str) -> engine.Basket:
    return engine.Basket(
        store_code=store_code,
        channel=payload.channel,
        at=payload.occurred_at or clock.now(),
        amount=payload.amount,
        currency=payload.currency.upper(),
        lines=tuple(
            engine.BasketLine(sku=x.sku, category=x.category, quantity=x.quantity, amount=x.amount)
            for x in payload.lines
        ),
    )


def _sale(caller: Caller, store_code: str | None, external_id: str) -> Transaction:
    store = members.store_for_key(store_code, caller.store_id)
    sale = pos.find_sale(store.pk, external_id)
    if sale is None:
        raise NotFound(_("No sale %(id)s at this store.") % {"id": external_id}, code="original_not_found")
    return sale


# --------------------------------------------------------------------------- endpoints


@router.post("/quote", response={200: QuoteOut, 404: ErrorOut, 422: ErrorOut, 403: ErrorOut})
def quote(request: HttpRequest, payload: QuoteIn) -> Any:
    """How many points this basket would earn, without posting anything. The member is optional
    (a quote for a shopper who has not identified yet uses no member facts)."""
    who = require_scope(request, "pos")
    store = members.store_for_key(payload.store_code, who.store_id)
    member = _member(payload) if payload.given else None
    return quote_out(services.quote(member, _basket(payload, store.code)))


@router.post("/sales", response={201: SaleOut, 200: SaleOut, **WRITE_ERRORS})
def sale(request: HttpRequest, payload: SaleIn) -> Any:
    """Record a sale, earn its points and optionally pay part of it with points, in one transaction."""
    who = require_scope(request, "transactions:write")

    def write() -> tuple[int, Any]:
        member = members.find_and_lock_member(**payload.lookup())  # the sale locks them first: one read
        data = members.SaleInput(
            store=members.store_for_key(payload.store_code, who.store_id),
            member=member,
            external_id=payload.external_id,
            occurred_at=payload.occurred_at,
            amount=payload.amount,
            currency=payload.currency.upper(),
            channel=payload.channel,
            lines=[members.LineInput(x.sku, x.quantity, x.amount, x.category) for x in payload.lines],
            source="pos",
        )
        with members.holding(member):
            outcome = pos.do_sale(data=data, pay_with_points=payload.pay_with_points)
            return (201 if outcome.created else 200), sale_out(outcome)

    return Status(*idempotent(request, payload.dict(), write))


@router.post("/redemptions", response={201: RedeemOut, **WRITE_ERRORS})
def redeem(request: HttpRequest, payload: RedeemIn) -> Any:
    """Spend points now (as payment at the till, or for a reward or service)."""
    who = require_scope(request, "pos")

    def write() -> tuple[int, Any]:
        member = _member(payload)
        sale = _sale(who, None, payload.sale_external_id) if payload.sale_external_id else None
        journal = ledger.do_redeem(
            member=member, points=payload.points, purpose=payload.purpose, transaction_=sale, memo=payload.reference
        )
        value = pos.points_value(payload.points, program.current().points_per_currency_unit)
        return 201, {"journal_id": journal.pk, "points": payload.points, "value": value, "balance": balance_out(member)}

    return Status(*idempotent(request, payload.dict(), write))


@router.post("/holds", response={201: HoldOut, **WRITE_ERRORS})
def hold(request: HttpRequest, payload: HoldIn) -> Any:
    """Set points aside while an order is placed; commit or void it, or it expires."""
    require_scope(request, "pos")

    def write() -> tuple[int, Any]:
        held = ledger.do_hold(
            member=_member(payload), points=payload.points, purpose=payload.purpose, reference=payload.reference
        )
        return 201, hold_out(held)

    return Status(*idempotent(request, payload.dict(), write))


@router.post("/holds/{hold_id}/commit", response={200: HoldOut, **WRITE_ERRORS})
def commit_hold(request: HttpRequest, hold_id: int, payload: CommitIn) -> Any:
    who = require_scope(request, "pos")

    def write() -> tuple[int, Any]:
        held = ledger.get_hold(hold_id)
        sale = _sale(who, None, payload.sale_external_id) if payload.sale_external_id else None
        ledger.do_commit_hold(hold=held, transaction_=sale)
        held.refresh_from_db()
        return 200, hold_out(held)

    return Status(*idempotent(request, {"hold": hold_id, **payload.dict()}, write))


@router.post("/holds/{hold_id}/void", response={200: HoldOut, **WRITE_ERRORS})
def void_hold(request: HttpRequest, hold_id: int) -> Any:
    require_scope(request, "pos")

    def write() -> tuple[int, Any]:
        held = ledger.get_hold(hold_id)
        ledger.do_void_hold(hold=held)
        held.refresh_from_db()
        return 200, hold_out(held)

    return Status(*idempotent(request, {"hold": hold_id}, write))


@router.post("/refunds", response={201: RefundOut, 200: RefundOut, **WRITE_ERRORS})
def refund(request: HttpRequest, payload: RefundIn) -> Any:
    """Refund all or part of a sale: its points are taken back in proportion, points spent on it return."""
    who = require_scope(request, "transactions:write")

    def write() -> tuple[int, Any]:
        original = _sale(who, payload.store_code, payload.original_external_id)
        outcome = pos.do_refund(
            original=original,
            external_id=payload.external_id,
            amount=payload.amount,
            occurred_at=payload.occurred_at,
            lines=[members.LineInput(x.sku, x.quantity, x.amount, x.category) for x in payload.lines],
        )
        return (201 if outcome.created else 200), refund_out(outcome)

    return Status(*idempotent(request, payload.dict(), write))


@router.post("/sales/{external_id}/reverse", response={201: RefundOut, 200: RefundOut, **WRITE_ERRORS})
def reverse_sale(request: HttpRequest, external_id: str, payload: ReverseIn) -> Any:
    """Undo a sale rung up by mistake (a refund of what is left of it, marked with the reason)."""
    who = require_scope(request, "transactions:write")

    def write() -> tuple[int, Any]:
        original = _sale(who, payload.store_code, external_id)
        outcome = pos.do_reverse_sale(
            original=original, external_id=payload.external_id or f"{external_id}-void"[:64], reason=payload.reason
        )
        return (201 if outcome.created else 200), refund_out(outcome)

    return Status(*idempotent(request, {"sale": external_id, **payload.dict()}, write))


class BalanceQuery(WhoIn):
    days: int = Field(30, ge=1, le=366)


@router.get("/balance", response={200: BalanceOut, 404: ErrorOut, 422: ErrorOut, 403: ErrorOut})
def balance(request: HttpRequest, filters: Query[BalanceQuery]) -> Any:
    """Points available, pending, held and owed, and what expires in the next `days` days."""
    require_scope(request, "pos")
    return balance_out(_member(filters), filters.days)


# --------------------------------------------------------------------------- activity points


class ActivityIn(Schema):
    member_no: str = Field(..., min_length=1, max_length=20)
    activity: str = Field(..., min_length=1, max_length=40)
    reference: str = Field("", max_length=100)


class ActivityOut(Schema):
    id: int
    member_no: str
    activity: str
    reference: str
    points: int
    bonus_points: int
    streak: int
    balance: BalanceOut


@activities_router.post("", response={201: ActivityOut, **WRITE_ERRORS})
def award_activity(request: HttpRequest, payload: ActivityIn) -> Any:
    """Award points for a named activity (daily check-in, survey answered, event attended, review
    written, referral, profile completed) within its limits; a reference pays once."""
    require_scope(request, "activities:write")

    def write() -> tuple[int, Any]:
        member = members.find_member(member_no=payload.member_no)
        award = services.do_award_activity(member=member, activity=payload.activity, reference=payload.reference)
        return 201, {
            "id": award.pk,
            "member_no": member.member_no,
            "activity": award.activity,
            "reference": award.reference,
            "points": award.points,
            "bonus_points": award.bonus_points,
            "streak": award.streak,
            "balance": balance_out(member),
        }

    return Status(*idempotent(request, payload.dict(), write))
