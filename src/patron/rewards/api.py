"""The points mall, members' coupons, check-in and badges under /api/v1/, and the till's coupon
calls under /api/v1/pos/coupons/ (signed like every POS call). Every write takes an Idempotency-Key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from patron.core import clock
from patron.core.api import Caller, idempotent, require_scope
from patron.core.errors import NotFound, ValidationFailed
from patron.core.schemas import READ_ERRORS, WRITE_ERRORS, ErrorOut, LineIn, WhoIn
from patron.ledger import queries as ledger_queries
from patron.members import services as members
from patron.members.models import Member, Store
from patron.rewards import codes, discounts, queries, services
from patron.rewards.errors import ErrorCode
from patron.rewards.models import Coupon, CouponBatch, CouponRedemption, RedemptionOrder, Reward

router = Router(tags=["rewards"])
pos_router = Router(tags=["pos"])

READ = ("rewards:read", "pos")
TOO_MANY: dict[int, Any] = {429: ErrorOut}


def _member(who: WhoIn) -> Member:
    return members.find_member(**who.lookup())


def _by_no(member_no: str) -> Member:
    return members.find_member(member_no=member_no)


def _store(caller: Caller, code: str | None) -> Store | None:
    """The store named or the key's own; none for an integration key that names none (e-commerce)."""
    if not code and caller.store_id is None:
        return None
    return members.store_for_key(code, caller.store_id)


# --------------------------------------------------------------------------- representation


class RewardOut(Schema):
    code: str
    kind: str
    name: str
    name_en: str
    description: str
    category: str | None
    points: int
    cash: Decimal
    currency: str
    fulfilment: str
    in_stock: int | None
    image_url: str | None
    eligible_tiers: list[str]
    per_member_limit: int | None
    per_member_period: str
    ends_at: dt.datetime | None


def reward_out(reward: Reward) -> dict[str, Any]:
    return {
        "code": reward.code,
        "kind": reward.kind,
        "name": reward.name,
        "name_en": reward.name_en,
        "description": reward.display_description,
        "category": reward.category.code if reward.category else None,
        "points": reward.points,
        "cash": reward.cash,
        "currency": reward.currency,
        "fulfilment": reward.fulfilment,
        "in_stock": reward.stock,
        "image_url": reward.image.url if reward.image else None,
        "eligible_tiers": list(reward.eligible_tiers),
        "per_member_limit": reward.per_member_limit,
        "per_member_period": reward.per_member_period,
        "ends_at": reward.ends_at,
    }


class CouponOut(Schema):
    id: int
    code: str
    batch: str
    name: str
    kind: str
    status: str
    amount_off: Decimal | None
    percent_off: int | None
    max_discount: Decimal | None
    min_spend: Decimal
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    issued_at: dt.datetime | None
    redeemed_at: dt.datetime | None


def coupon_out(coupon: Coupon) -> dict[str, Any]:
    batch = coupon.batch
    return {
        "id": coupon.pk,
        "code": codes.display(coupon.code or batch.shared_code or ""),
        "batch": batch.code,
        "name": batch.display,
        "kind": batch.kind,
        "status": coupon.status,
        "amount_off": batch.amount_off,
        "percent_off": batch.percent_off,
        "max_discount": batch.max_discount,
        "min_spend": batch.min_spend,
        "valid_from": coupon.valid_from,
        "valid_until": coupon.valid_until,
        "issued_at": coupon.issued_at,
        "redeemed_at": coupon.redeemed_at,
    }


class OrderOut(Schema):
    number: str
    member_no: str
    reward: str
    kind: str
    quantity: int
    points: int
    cash: Decimal
    status: str
    fulfilment: str
    pickup_store: str | None
    carrier: str
    tracking_no: str
    voucher_code: str | None
    valid_until: dt.datetime | None
    used_at: dt.datetime | None
    coupon: CouponOut | None
    partner_code: str | None
    placed_at: dt.datetime
    confirmed_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str
    balance_available: int


def order_out(order: RedemptionOrder) -> dict[str, Any]:
    partner = getattr(order, "partner_code", None) if order.reward.kind == "partner" else None
    return {
        "number": order.number,
        "member_no": order.member.member_no,
        "reward": order.reward.code,
        "kind": order.reward.kind,
        "quantity": order.quantity,
        "points": order.points,
        "cash": order.cash,
        "status": order.status,
        "fulfilment": order.fulfilment,
        "pickup_store": order.pickup_store.code if order.pickup_store else None,
        "carrier": order.carrier,
        "tracking_no": order.tracking_no,
        "voucher_code": codes.display(order.voucher_code) if order.voucher_code else None,
        "valid_until": order.valid_until,
        "used_at": order.used_at,
        "coupon": coupon_out(order.coupon) if order.coupon else None,
        "partner_code": partner.code if partner and order.status != "cancelled" else None,
        "placed_at": order.placed_at,
        "confirmed_at": order.confirmed_at,
        "fulfilled_at": order.fulfilled_at,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "balance_available": ledger_queries.balance(order.member).available,
    }


# --------------------------------------------------------------------------- the points mall


class CatalogQuery(Schema):
    member_no: str | None = Field(None, max_length=20)
    store_code: str | None = Field(None, max_length=32)


@router.get("/rewards", response={200: list[RewardOut], **READ_ERRORS})
def list_rewards(request: HttpRequest, filters: Query[CatalogQuery]) -> Any:
    """Rewards on offer now; with `member_no`, only those that member's tier may redeem."""
    who = require_scope(request, *READ)
    store = _store(who, filters.store_code)
    store_id = store.pk if store else None
    if filters.member_no:
        rewards = queries.catalog_for(_by_no(filters.member_no), store_id=store_id)
    else:
        rewards = list(queries.catalog(store_id=store_id))
    return [reward_out(r) for r in rewards]


class AddressIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    phone: str = Field(..., min_length=1, max_length=30)
    address: str = Field(..., min_length=1, max_length=200)
    postcode: str = Field("", max_length=12)


class OrderIn(WhoIn):
    reward_code: str = Field(..., min_length=1, max_length=40)
    quantity: int = Field(1, ge=1, le=100)
    store_code: str | None = Field(None, max_length=32)
    fulfilment: Literal["pickup", "delivery", ""] = ""
    pickup_store_code: str | None = Field(None, max_length=32)
    address: AddressIn | None = None
    confirm: bool = True


def _pickup_store(code: str | None) -> Store | None:
    if not code:
        return None
    store = Store.objects.filter(code=code, is_active=True).first()
    if store is None:
        raise NotFound(_("No store %(s)s.") % {"s": code}, code="store_not_found")
    return store


@router.post("/rewards/orders", response={201: OrderOut, **WRITE_ERRORS})
def place_order(request: HttpRequest, payload: OrderIn) -> Any:
    """Redeem points for a reward. With `confirm` (the default) the points are spent at once;
    without, they are held until `/confirm` (e.g. after an e-commerce payment of the cash part)."""
    who = require_scope(request, "rewards:redeem")

    def write() -> tuple[int, Any]:
        order = services.do_place_order(
            request=services.OrderRequest(
                member=_member(payload),
                reward=queries.get_reward(payload.reward_code),
                quantity=payload.quantity,
                channel="api",
                store=_store(who, payload.store_code),
                fulfilment=payload.fulfilment,
                pickup_store=_pickup_store(payload.pickup_store_code),
                address=payload.address.dict() if payload.address else None,
                confirm=payload.confirm,
            )
        )
        return 201, order_out(queries.get_order(order.number))

    return Status(*idempotent(request, payload.dict(), write))


@router.get("/rewards/orders/{number}", response={200: OrderOut, **READ_ERRORS})
def get_order(request: HttpRequest, number: str) -> Any:
    require_scope(request, *READ)
    return order_out(queries.get_order(number))


def _order_action(request: HttpRequest, number: str, payload: dict[str, Any], act: Any) -> Any:
    def write() -> tuple[int, Any]:
        act(queries.get_order(number))
        return 200, order_out(queries.get_order(number))

    return Status(*idempotent(request, {"order": number, **payload}, write))


@router.post("/rewards/orders/{number}/confirm", response={200: OrderOut, **WRITE_ERRORS})
def confirm_order(request: HttpRequest, number: str) -> Any:
    require_scope(request, "rewards:redeem")
    return _order_action(request, number, {}, lambda order: services.do_confirm_order(order=order))


class CancelIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)


@router.post("/rewards/orders/{number}/cancel", response={200: OrderOut, **WRITE_ERRORS})
def cancel_order(request: HttpRequest, number: str, payload: CancelIn) -> Any:
    """Cancel; stock and points come back. A delivered partner code or a handed-over gift cannot."""
    require_scope(request, "rewards:redeem")
    return _order_action(
        request, number, payload.dict(), lambda order: services.do_cancel_order(order=order, reason=payload.reason)
    )


class FulfilIn(Schema):
    carrier: str = Field("", max_length=40)
    tracking_no: str = Field("", max_length=60)
    reference: str = Field("", max_length=100)


@router.post("/rewards/orders/{number}/fulfil", response={200: OrderOut, **WRITE_ERRORS})
def fulfil_order(request: HttpRequest, number: str, payload: FulfilIn) -> Any:
    require_scope(request, "rewards:fulfil")
    return _order_action(
        request, number, payload.dict(), lambda order: services.do_fulfil_order(order=order, **payload.dict())
    )


@router.post("/rewards/orders/{number}/use", response={200: OrderOut, **WRITE_ERRORS})
def use_voucher(request: HttpRequest, number: str) -> Any:
    """A service voucher was used (the car wash is done)."""
    require_scope(request, "rewards:fulfil")
    return _order_action(request, number, {}, lambda order: services.do_use_voucher(order=order))


@router.get("/rewards/{code}", response={200: RewardOut, **READ_ERRORS})
def get_reward(request: HttpRequest, code: str) -> Any:
    require_scope(request, *READ)
    return reward_out(queries.get_reward(code))


@router.get("/members/{member_no}/orders", response={200: list[OrderOut], **READ_ERRORS})
def member_orders(request: HttpRequest, member_no: str) -> Any:
    require_scope(request, *READ)
    return [order_out(o) for o in queries.member_orders(_by_no(member_no))[:100]]


# --------------------------------------------------------------------------- members' coupons


class CouponsQuery(Schema):
    usable: bool = False


@router.get("/members/{member_no}/coupons", response={200: list[CouponOut], **READ_ERRORS})
def member_coupons(request: HttpRequest, member_no: str, filters: Query[CouponsQuery]) -> Any:
    require_scope(request, *READ)
    return [coupon_out(c) for c in queries.member_coupons(_by_no(member_no), usable_only=filters.usable)[:200]]


class IssueIn(Schema):
    batch_code: str = Field(..., min_length=1, max_length=40)
    reference: str = Field("", max_length=100)


@router.post("/members/{member_no}/coupons", response={201: CouponOut, **WRITE_ERRORS})
def issue_coupon(request: HttpRequest, member_no: str, payload: IssueIn) -> Any:
    """Give a member a coupon from a batch (within its per-member and overall limits)."""
    require_scope(request, "coupons:issue")

    def write() -> tuple[int, Any]:
        batch = CouponBatch.objects.filter(code=payload.batch_code).first()
        if batch is None:
            raise NotFound(_("No coupon batch %(b)s.") % {"b": payload.batch_code}, code=ErrorCode.BATCH_NOT_FOUND)
        coupon = services.do_issue_coupon(
            batch=batch, member=_by_no(member_no), source="api", source_ref=payload.reference
        )
        return 201, coupon_out(coupon)

    return Status(*idempotent(request, {"member": member_no, **payload.dict()}, write))


class ClaimIn(Schema):
    code: str = Field(..., min_length=1, max_length=60)


@router.post("/members/{member_no}/coupons/claim", response={201: CouponOut, **WRITE_ERRORS, **TOO_MANY})
def claim_coupon(request: HttpRequest, member_no: str, payload: ClaimIn) -> Any:
    """The member enters a code they were given; failed attempts count towards the guessing limit."""
    who = require_scope(request, "rewards:redeem")
    member = _by_no(member_no)
    scopes = services.attempt_scopes(key_id=who.key_id, member=member)
    services.check_attempts(scopes)

    def write() -> tuple[int, Any]:
        return 201, coupon_out(services.do_claim_coupon(member=member, code=payload.code))

    status, body = idempotent(request, {"member": member_no, **payload.dict()}, write)
    _count_if_guess(scopes, status, body)
    return Status(status, body)


def _count_if_guess(scopes: dict[str, str], status: int, body: Any) -> None:
    if status >= 400 and isinstance(body, dict) and body.get("code") in services.GUESSING_CODES:
        services.record_failed_attempt(scopes)


# --------------------------------------------------------------------------- check-in and badges


class CheckInOut(Schema):
    member_no: str
    points: int
    bonus_points: int
    streak: int
    local_date: dt.date
    balance_available: int


@router.post("/members/{member_no}/check-in", response={201: CheckInOut, **WRITE_ERRORS})
def check_in(request: HttpRequest, member_no: str) -> Any:
    """Daily check-in (签到): once per local day; refused with `activity_limit_reached` the second time."""
    require_scope(request, "activities:write")

    def write() -> tuple[int, Any]:
        member = _by_no(member_no)
        done = services.do_check_in(member=member)
        return 201, {
            "member_no": member.member_no,
            "points": done.points,
            "bonus_points": done.bonus_points,
            "streak": done.streak,
            "local_date": done.local_date,
            "balance_available": ledger_queries.balance(member).available,
        }

    return Status(*idempotent(request, {"member": member_no}, write))


class CalendarQuery(Schema):
    month: str | None = Field(None, pattern=r"^\d{4}-\d{2}$")


class CalendarOut(Schema):
    month: str
    days: list[dt.date]
    streak: int
    checked_in_today: bool
    next_bonus_in: int | None
    next_bonus_points: int | None


@router.get("/members/{member_no}/check-ins", response={200: CalendarOut, **READ_ERRORS})
def check_in_calendar(request: HttpRequest, member_no: str, filters: Query[CalendarQuery]) -> Any:
    """The member's check-in days in a local month (default: this one) and their streak."""
    require_scope(request, *READ, "activities:write")
    month = None
    if filters.month:
        try:
            month = dt.date.fromisoformat(filters.month + "-01")
        except ValueError as exc:
            raise ValidationFailed(_("month is YYYY-MM."), fields={"month": _("invalid")}) from exc
    cal = queries.check_in_month(_by_no(member_no), month)
    return {
        "month": cal.month.strftime("%Y-%m"),
        "days": cal.days,
        "streak": cal.streak,
        "checked_in_today": cal.checked_in_today,
        "next_bonus_in": cal.next_bonus_in,
        "next_bonus_points": cal.next_bonus_points,
    }


class BadgeOut(Schema):
    code: str
    name: str
    description: str
    icon: str
    color: str
    awarded_at: dt.datetime | None = None


def badge_out(badge: Any, awarded_at: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "code": badge.code,
        "name": badge.display,
        "description": badge.display_description,
        "icon": badge.icon,
        "color": badge.color,
        "awarded_at": awarded_at,
    }


@router.get("/badges", response={200: list[BadgeOut], **READ_ERRORS})
def list_badges(request: HttpRequest) -> Any:
    require_scope(request, *READ)
    return [badge_out(b) for b in queries.badges()]


@router.get("/members/{member_no}/badges", response={200: list[BadgeOut], **READ_ERRORS})
def member_badges(request: HttpRequest, member_no: str) -> Any:
    require_scope(request, *READ)
    return [badge_out(held.badge, held.awarded_at) for held in queries.member_badges(_by_no(member_no))]


# --------------------------------------------------------------------------- coupons at the till


class BasketIn(WhoIn):
    codes: list[str] = Field(..., min_length=1, max_length=20)
    amount: Decimal = Field(..., gt=0, max_digits=14, decimal_places=2)
    currency: str = Field("CNY", min_length=3, max_length=3)
    store_code: str | None = Field(None, max_length=32)
    channel: Literal["store", "online", "phone"] = "store"
    shipping: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    lines: list[LineIn] = Field([], max_length=500)


class RedeemIn(BasketIn):
    sale_external_id: str = Field(..., min_length=1, max_length=64)


class AppliedOut(Schema):
    code: str
    batch: str
    ok: bool
    discount: Decimal
    note: str
    refusal: ErrorOut | None


class ValidateOut(Schema):
    ok: bool
    discount: Decimal
    coupons: list[AppliedOut]
    refusal: ErrorOut | None


class RedeemedOut(Schema):
    sale_external_id: str
    discount: Decimal
    coupons: list[AppliedOut]


def _basket(payload: BasketIn, store: Store) -> discounts.Basket:
    return discounts.Basket(
        amount=payload.amount,
        currency=payload.currency.upper(),
        store_id=store.pk,
        channel=payload.channel,
        shipping=payload.shipping,
        lines=tuple(discounts.Line(x.sku, x.category, x.quantity, x.amount) for x in payload.lines),
    )


def _refusal(refusal: discounts.Refusal | None) -> dict[str, Any] | None:
    return {"code": refusal.code, "message": refusal.message, "fields": {}} if refusal else None


def _check_out(check: services.Check) -> dict[str, Any]:
    rows = [
        {
            "code": codes.display(text),
            "batch": "",
            "ok": False,
            "discount": Decimal("0.00"),
            "note": "",
            "refusal": _refusal(refusal),
        }
        for text, refusal in check.refusals.items()
    ]
    rows += [
        {
            "code": codes.display(a.code),
            "batch": a.terms.batch,
            "ok": a.ok,
            "discount": a.discount,
            "note": a.note,
            "refusal": _refusal(a.refusal),
        }
        for a in check.outcome.applied
    ]
    return {
        "ok": check.ok,
        "discount": check.outcome.discount if check.ok else Decimal("0.00"),
        "coupons": rows,
        "refusal": _refusal(check.first_refusal()),
    }


def _guarded(who: Caller, payload: BasketIn) -> tuple[Member | None, dict[str, str]]:
    member = _member(payload) if payload.given else None
    scopes = services.attempt_scopes(key_id=who.key_id, member=member)
    services.check_attempts(scopes)
    return member, scopes


@pos_router.post("/validate", response={200: ValidateOut, **READ_ERRORS, **TOO_MANY})
def validate(request: HttpRequest, payload: BasketIn) -> Any:
    """Would these codes apply to this basket, and for how much? Uses nothing. Unknown codes count
    towards the key's and the member's failed-lookup limits (429 `too_many_attempts` past them)."""
    who = require_scope(request, "pos")
    member, scopes = _guarded(who, payload)
    store = members.store_for_key(payload.store_code, who.store_id)
    check = services.check_coupons(texts=payload.codes, basket=_basket(payload, store), member=member)
    if any(r.code in services.GUESSING_CODES for r in check.refusals.values()):
        services.record_failed_attempt(scopes)
    return _check_out(check)


@pos_router.post("/redeem", response={201: RedeemedOut, **WRITE_ERRORS, **TOO_MANY})
def redeem(request: HttpRequest, payload: RedeemIn) -> Any:
    """Use the codes on a sale, all or none, exactly once: a second till trying the same code gets
    `coupon_already_redeemed`. A retry with the same Idempotency-Key gets the first answer."""
    who = require_scope(request, "pos")
    member, scopes = _guarded(who, payload)

    def write() -> tuple[int, Any]:
        store = members.store_for_key(payload.store_code, who.store_id)
        used = services.do_redeem_coupons(
            request=services.RedeemRequest(
                texts=tuple(payload.codes),
                basket=_basket(payload, store),
                member=member,
                store=store,
                sale_external_id=payload.sale_external_id,
                api_key_id=who.key_id,
            )
        )
        return 201, _redeemed_out(payload.sale_external_id, used)

    status, body = idempotent(request, payload.dict(), write)
    _count_if_guess(scopes, status, body)
    return Status(status, body)


def _redeemed_out(sale_external_id: str, used: list[CouponRedemption]) -> dict[str, Any]:
    return {
        "sale_external_id": sale_external_id,
        "discount": sum((u.discount for u in used), Decimal("0.00")),
        "coupons": [
            {
                "code": codes.display(u.coupon.code if u.coupon and u.coupon.code else u.batch.shared_code or ""),
                "batch": u.batch.code,
                "ok": True,
                "discount": u.discount,
                "note": "",
                "refusal": None,
            }
            for u in used
        ],
    }


class UnredeemIn(Schema):
    sale_external_id: str = Field(..., min_length=1, max_length=64)
    store_code: str | None = Field(None, max_length=32)
    codes: list[str] = Field([], max_length=20)


class UnredeemOut(Schema):
    sale_external_id: str
    returned: int
    at: dt.datetime


@pos_router.post("/unredeem", response={200: UnredeemOut, **WRITE_ERRORS})
def unredeem(request: HttpRequest, payload: UnredeemIn) -> Any:
    """Take back the coupons used on a sale (a voided sale), within each batch's hours."""
    who = require_scope(request, "pos")

    def write() -> tuple[int, Any]:
        store = members.store_for_key(payload.store_code, who.store_id)
        undone = services.do_unredeem(store=store, sale_external_id=payload.sale_external_id, texts=payload.codes)
        return 200, {"sale_external_id": payload.sale_external_id, "returned": len(undone), "at": clock.now()}

    return Status(*idempotent(request, payload.dict(), write))
