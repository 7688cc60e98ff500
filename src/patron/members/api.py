"""Members and transactions over the API: thin handlers that parse, call one service, answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from patron.core.api import Caller, idempotent, require_scope
from patron.core.errors import NotFound, ValidationFailed
from patron.core.schemas import WRITE_ERRORS, ErrorOut, LineIn
from patron.members import queries, services
from patron.members.errors import ErrorCode
from patron.members.models import Member, Store, Transaction
from patron.members.phones import mask_phone

router = Router(tags=["members"])
transactions_router = Router(tags=["transactions"])


class MemberIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    phone: str = Field(..., max_length=30)
    email: str = Field("", max_length=254)
    gender: Literal["F", "M", "U"] = "U"
    birthday: dt.date | None = None
    city: str = Field("", max_length=50)
    language: Literal["zh-hans", "en"] = "zh-hans"
    time_zone: str = Field("", max_length=40, description="IANA name for the member's local day; blank: the program's")
    store_code: str | None = None
    join_channel: Literal["store", "online", "app", "wechat", "phone", "event", "referral"] = "online"
    card_no: str | None = Field(None, max_length=32)
    referrer_member_no: str | None = None
    consents: dict[str, bool] = {}
    notice_version: str = Field("2026-01", max_length=20)
    attributes: dict[str, Any] = {}


class MemberPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=30)
    email: str | None = Field(None, max_length=254)
    gender: Literal["F", "M", "U"] | None = None
    birthday: dt.date | None = None
    city: str | None = Field(None, max_length=50)
    language: Literal["zh-hans", "en"] | None = None
    time_zone: str | None = Field(None, max_length=40)
    card_no: str | None = Field(None, max_length=32)
    attributes: dict[str, Any] | None = None


class MemberOut(Schema):
    member_no: str
    card_no: str | None
    name: str
    phone: str
    email: str
    gender: str
    birthday: dt.date | None
    city: str
    language: str
    time_zone: str
    store_code: str | None
    status: str
    joined_at: dt.datetime
    join_channel: str
    tags: list[str]
    consents: dict[str, bool]


class ConsentIn(Schema):
    purpose: str
    granted: bool
    notice_version: str = Field(..., min_length=1, max_length=20)


class TagIn(Schema):
    tag: str = Field(..., min_length=1, max_length=50)


class IdentifyIn(Schema):
    phone: str | None = None
    member_no: str | None = None
    card_no: str | None = None
    qr_token: str | None = None


class TransactionIn(Schema):
    external_id: str = Field(..., min_length=1, max_length=64)
    store_code: str | None = None
    member_no: str | None = None
    phone: str | None = None
    card_no: str | None = None
    occurred_at: dt.datetime
    amount: Decimal = Field(..., max_digits=14, decimal_places=2)
    currency: str = Field("CNY", min_length=3, max_length=3)
    channel: Literal["store", "online", "phone"] = "store"
    lines: list[LineIn] = []


class RefundIn(Schema):
    external_id: str = Field(..., min_length=1, max_length=64)
    original_external_id: str = Field(..., min_length=1, max_length=64)
    store_code: str | None = None
    occurred_at: dt.datetime
    amount: Decimal = Field(..., max_digits=14, decimal_places=2)
    lines: list[LineIn] = []


class TransactionOut(Schema):
    id: int
    external_id: str
    kind: str
    store_code: str
    member_no: str
    occurred_at: dt.datetime
    amount: Decimal
    currency: str
    channel: str
    original_external_id: str | None
    replayed: bool = False


class BulkIn(Schema):
    transactions: list[TransactionIn] = Field(..., max_length=1000)


class BulkItemOut(Schema):
    external_id: str
    status: int
    transaction: TransactionOut | None = None
    error: ErrorOut | None = None


class SearchOut(Schema):
    items: list[MemberOut]
    page: int
    has_next: bool


# --------------------------------------------------------------------------- representation


def member_out(member: Member, caller: Caller) -> dict[str, Any]:
    full = "members:pii" in caller.scopes
    return {
        "member_no": member.member_no,
        "card_no": member.card_no,
        "name": member.name,
        "phone": member.phone if full else mask_phone(member.phone),
        "email": member.email,
        "gender": member.gender,
        "birthday": member.birthday if full else None,
        "city": member.city,
        "language": member.language,
        "time_zone": member.time_zone,
        "store_code": member.store.code if member.store is not None else None,
        "status": member.status,
        "joined_at": member.joined_at,
        "join_channel": member.join_channel,
        "tags": [t.tag.name for t in member.member_tags.select_related("tag")],
        "consents": {p: r.granted for p, r in queries.current_consent_state(member).items()},
    }


def transaction_out(txn: Transaction, replayed: bool = False) -> dict[str, Any]:
    return {
        "id": txn.pk,
        "external_id": txn.external_id,
        "kind": txn.kind,
        "store_code": txn.store.code,
        "member_no": txn.member.member_no,
        "occurred_at": txn.occurred_at,
        "amount": txn.amount,
        "currency": txn.currency,
        "channel": txn.channel,
        "original_external_id": txn.original.external_id if txn.original is not None else None,
        "replayed": replayed,
    }


def _store(code: str | None, caller: Caller) -> Store:
    return services.store_for_key(code, caller.store_id)


# --------------------------------------------------------------------------- members


@router.post("", response={201: MemberOut, 200: MemberOut, **WRITE_ERRORS})
def create_member(request: HttpRequest, payload: MemberIn) -> Any:
    who = require_scope(request, "members:write")

    def write() -> Any:
        data = services.NewMember(
            name=payload.name,
            phone=payload.phone,
            email=payload.email,
            gender=payload.gender,
            birthday=payload.birthday,
            city=payload.city,
            language=payload.language,
            time_zone=payload.time_zone,
            store=_store(payload.store_code, who) if (payload.store_code or who.store_id) else None,
            join_channel=payload.join_channel,
            card_no=payload.card_no,
            referrer=services.find_member(member_no=payload.referrer_member_no) if payload.referrer_member_no else None,
            consents=payload.consents,
            notice_version=payload.notice_version,
            consent_source="api",
            attributes=payload.attributes,
        )
        return 201, member_out(services.do_create_member(data=data), who)

    return Status(*idempotent(request, payload.dict(), write))


@router.get("", response={200: SearchOut, 422: ErrorOut})
def search_members(
    request: HttpRequest,
    q: str = Query("", max_length=200),
    tag: str = Query("", max_length=50),
    page: int = Query(1, ge=1, le=1_000_000),
    size: int = Query(25, ge=1, le=200),
) -> dict[str, Any]:
    who = require_scope(request, "members:read")
    result = queries.list_members(queries.MemberFilter(q=q, tag=tag), page=page, size=size)
    return {"items": [member_out(m, who) for m in result.items], "page": result.number, "has_next": result.has_next}


@router.get("/{member_no}", response={200: MemberOut, 404: ErrorOut})
def get_member(request: HttpRequest, member_no: str) -> dict[str, Any]:
    who = require_scope(request, "members:read")
    return member_out(queries.get_member_by_no(member_no), who)


@router.patch("/{member_no}", response={200: MemberOut, **WRITE_ERRORS})
def update_member(request: HttpRequest, member_no: str, payload: MemberPatch) -> Any:
    who = require_scope(request, "members:write")
    changes = payload.dict(exclude_unset=True)
    attributes = changes.pop("attributes", None)

    def write() -> Any:
        member = queries.get_member_by_no(member_no)
        if changes:
            member = services.do_update_member(member=member, changes=changes)
        if attributes:
            member = services.do_set_attributes(member=member, values=attributes, source="api")
        return 200, member_out(member, who)

    return Status(*idempotent(request, {"member_no": member_no, **payload.dict(exclude_unset=True)}, write))


@router.post("/{member_no}/consents", response={201: MemberOut, **WRITE_ERRORS})
def record_consent(request: HttpRequest, member_no: str, payload: ConsentIn) -> Any:
    who = require_scope(request, "members:write")

    def write() -> Any:
        member = queries.get_member_by_no(member_no)
        services.do_record_consent(
            member=member,
            purpose=payload.purpose,
            granted=payload.granted,
            notice_version=payload.notice_version,
            source="api",
        )
        return 201, member_out(member, who)

    return Status(*idempotent(request, {"member_no": member_no, **payload.dict()}, write))


@router.post("/{member_no}/tags", response={201: MemberOut, **WRITE_ERRORS})
def tag_member(request: HttpRequest, member_no: str, payload: TagIn) -> Any:
    who = require_scope(request, "members:write")

    def write() -> Any:
        member = queries.get_member_by_no(member_no)
        services.do_tag_member(member=member, tag_name=payload.tag, source="api")
        return 201, member_out(member, who)

    return Status(*idempotent(request, {"member_no": member_no, **payload.dict()}, write))


# --------------------------------------------------------------------------- till and transactions


@transactions_router.post("/pos/identify", response={200: MemberOut, 404: ErrorOut, 422: ErrorOut})
def identify(request: HttpRequest, payload: IdentifyIn) -> dict[str, Any]:
    """Find the member at the till by phone, member number, card number or the portal's QR token."""
    who = require_scope(request, "pos")
    return member_out(services.find_member(**payload.dict()), who)


def _sale_input(payload: TransactionIn, who: Caller, source: str) -> services.SaleInput:
    if payload.amount <= 0:
        raise ValidationFailed(
            _("The amount must be positive."), code=ErrorCode.INVALID_AMOUNT, fields={"amount": _("must be positive")}
        )
    member = services.find_member(member_no=payload.member_no, card_no=payload.card_no, phone=payload.phone)
    return services.SaleInput(
        store=_store(payload.store_code, who),
        member=member,
        external_id=payload.external_id,
        occurred_at=payload.occurred_at,
        amount=payload.amount,
        currency=payload.currency.upper(),
        channel=payload.channel,
        source=source,
        lines=[
            services.LineInput(sku=x.sku, category=x.category, quantity=x.quantity, amount=x.amount)
            for x in payload.lines
        ],
    )


def _record_sale(payload: TransactionIn, who: Caller, source: str = "api") -> Any:
    txn, created = services.do_record_sale(data=_sale_input(payload, who, source))
    return (201 if created else 200), transaction_out(txn, replayed=not created)


@transactions_router.post("/transactions", response={201: TransactionOut, 200: TransactionOut, **WRITE_ERRORS})
def record_transaction(request: HttpRequest, payload: TransactionIn) -> Any:
    """Record a sale. Retries with the same Idempotency-Key (or the same store + external_id)
    never record it twice."""
    who = require_scope(request, "transactions:write")
    return Status(*idempotent(request, payload.dict(), lambda: _record_sale(payload, who)))


@transactions_router.post("/refunds", response={201: TransactionOut, 200: TransactionOut, **WRITE_ERRORS})
def record_refund(request: HttpRequest, payload: RefundIn) -> Any:
    who = require_scope(request, "transactions:write")

    def write() -> Any:
        store = _store(payload.store_code, who)
        original = Transaction.objects.filter(
            store=store, external_id=payload.original_external_id, kind="sale"
        ).first()
        if original is None:
            raise NotFound(
                _("No sale %(id)s at this store.") % {"id": payload.original_external_id},
                code=ErrorCode.ORIGINAL_NOT_FOUND,
            )
        txn, created = services.do_record_refund(
            original=original,
            external_id=payload.external_id,
            amount=payload.amount,
            occurred_at=payload.occurred_at,
            store=store,
            lines=[
                services.LineInput(sku=x.sku, category=x.category, quantity=x.quantity, amount=x.amount)
                for x in payload.lines
            ],
        )
        return (201 if created else 200), transaction_out(txn, replayed=not created)

    return Status(*idempotent(request, payload.dict(), write))


@transactions_router.post("/transactions/bulk", response={200: list[BulkItemOut], **WRITE_ERRORS})
def record_transactions_bulk(request: HttpRequest, payload: BulkIn) -> Any:
    """Up to 1,000 sales in one call; each succeeds or fails on its own and says which."""
    who = require_scope(request, "transactions:write")

    def write() -> Any:
        results = [_bulk_item(item, who) for item in payload.transactions]
        return 200, results

    return Status(*idempotent(request, payload.dict(), write))


def _bulk_item(item: TransactionIn, who: Caller) -> dict[str, Any]:
    from django.db import transaction as db_transaction

    from patron.core.api import error_body
    from patron.core.errors import DomainError

    try:
        with db_transaction.atomic():
            status, body = _record_sale(item, who, source="bulk")
    except DomainError as exc:
        return {"external_id": item.external_id, "status": exc.status, "error": error_body(exc)}
    return {"external_id": item.external_id, "status": status, "transaction": body}
