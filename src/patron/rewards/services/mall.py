"""The points mall: catalog, stock, partner codes and redemption orders.

Lock order, the same everywhere so two writers never wait on each other in a circle: the order row
(a conditional UPDATE of its status), then the reward row (a conditional UPDATE of stock), then the
member row (`lock_member`, which the ledger takes too). Stock and `sold` only change by one
conditional UPDATE each, backed by check constraints, never by read-then-write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.errors import ValidationFailed
from patron.core.events import publish
from patron.ledger import services as ledger
from patron.ledger.models import Hold, HoldStatus, Journal, JournalKind
from patron.members.models import Member, MemberStatus, Store
from patron.members.services import add_timeline, lock_member
from patron.rewards import codes, events
from patron.rewards.errors import ErrorCode
from patron.rewards.models import (
    Coupon,
    CouponSource,
    CouponStatus,
    Fulfilment,
    OrderChannel,
    OrderStatus,
    PartnerCode,
    RedemptionOrder,
    Reward,
    RewardKind,
)
from patron.rewards.services.common import local_period_start, refuse, tier_codes
from patron.rewards.services.coupons import check_can_issue, issue_locked
from patron.tiers import queries as tier_queries
from patron.tiers import services as tier_services
from patron.tiers.config import ExclusiveRewards

# =========================================================================== catalog


def check_reward(reward: Reward) -> None:
    """The kind-specific fields a reward needs, before it is saved."""
    problems: dict[str, str] = {}
    if reward.points < 0 or reward.cash < 0:
        problems["points"] = _("A price cannot be negative.")
    if reward.points == 0 and reward.cash == 0:
        problems["points"] = _("Set a price in points, in cash or both.")
    if reward.kind == RewardKind.GIFT and reward.fulfilment not in (
        Fulfilment.PICKUP,
        Fulfilment.DELIVERY,
        Fulfilment.EITHER,
    ):
        problems["fulfilment"] = _("A gift is picked up, delivered, or either.")
    if reward.kind != RewardKind.GIFT and reward.fulfilment != Fulfilment.DIGITAL:
        problems["fulfilment"] = _("Only a physical gift is picked up or delivered.")
    if reward.kind == RewardKind.COUPON and reward.coupon_batch_id is None:
        problems["coupon_batch"] = _("A coupon reward issues from a coupon batch: choose one.")
    if reward.kind == RewardKind.SERVICE and not reward.service_days:
        problems["service_days"] = _("Say for how many days the voucher is valid.")
    if reward.kind == RewardKind.STORED_VALUE and not (reward.value and reward.value > 0):
        problems["value"] = _("Set the value credited.")
    if reward.stock is not None and reward.stock < 0:
        problems["stock"] = _("Stock cannot be negative.")
    for name in ("per_member_limit", "service_days"):
        if getattr(reward, name) is not None and getattr(reward, name) < 1:
            problems[name] = _("At least 1.")
    if reward.total_limit is not None and reward.total_limit < 0:
        problems["total_limit"] = _("Cannot be negative.")
    if reward.total_limit is not None and reward.total_limit < reward.sold:
        problems["total_limit"] = _("The limit is below what was already redeemed (%(n)s).") % {"n": reward.sold}
    if reward.starts_at and reward.ends_at and reward.ends_at <= reward.starts_at:
        problems["ends_at"] = _("The end must come after the start.")
    known = tier_codes()
    unknown = [code for code in reward.eligible_tiers if known and code not in known]
    if unknown:
        problems["eligible_tiers"] = _("Unknown tiers: %(codes)s") % {"codes": ", ".join(unknown)}
    if problems:
        raise ValidationFailed(_("The reward is not valid."), code=ErrorCode.INVALID_REWARD, fields=problems)


REWARD_FIELDS = (  # noqa: SIM905  (a word list reads better than a column)
    "kind name name_en description description_en image category points cash currency fulfilment stock "
    "total_limit per_member_limit per_member_period coupon_batch service_days value eligible_tiers "
    "starts_at ends_at is_active position"
).split()


@transaction.atomic
def do_create_reward(*, code: str, stores: Iterable[Store] = (), **fields: Any) -> Reward:
    unknown = set(fields) - set(REWARD_FIELDS)
    if unknown:
        raise TypeError(f"unknown reward fields: {sorted(unknown)}")
    if Reward.objects.filter(code=code).exists():
        raise refuse(ErrorCode.INVALID_REWARD, _("A reward with this code exists."), code=_("taken"))
    now = clock.now()
    reward = Reward(code=code, created_at=now, updated_at=now, **fields)
    if reward.kind == RewardKind.PARTNER:
        reward.stock = 0  # the pool's free codes: codes are added afterwards
    check_reward(reward)
    reward.save(force_insert=True)
    reward.stores.set(list(stores))
    record_audit("rewards.create", obj=reward, after={"code": code, "kind": reward.kind, "points": reward.points})
    return reward


@transaction.atomic
def do_update_reward(*, reward: Reward, stores: Iterable[Store] | None = None, **changes: Any) -> Reward:
    """Edit a reward. Stock is changed with `do_adjust_stock` (a conditional update), not here."""
    unknown = set(changes) - set(REWARD_FIELDS) | ({"stock"} & set(changes))
    if unknown:
        raise TypeError(f"not editable here: {sorted(unknown)}")
    reward = Reward.objects.select_for_update().get(pk=reward.pk)
    before = {k: str(getattr(reward, k)) for k in changes}
    for key, value in changes.items():
        setattr(reward, key, value)
    reward.updated_at = clock.now()
    check_reward(reward)
    reward.save()
    if stores is not None:
        reward.stores.set(list(stores))
    record_audit("rewards.update", obj=reward, before=before, after={k: str(v) for k, v in changes.items()})
    return reward


@transaction.atomic
def do_adjust_stock(*, reward: Reward, delta: int, reason: str) -> Reward:
    """Add stock (a delivery) or take it away (damaged, counted short); never below zero."""
    reason = (reason or "").strip()
    if not reason:
        raise refuse(ErrorCode.INVALID_REWARD, _("Say why the stock changes."), reason=_("required"))
    if reward.kind == RewardKind.PARTNER:
        raise refuse(ErrorCode.INVALID_REWARD, _("A partner reward's stock is its pool of codes: add codes instead."))
    if delta == 0:
        raise refuse(ErrorCode.INVALID_REWARD, _("The change is zero."), delta=_("zero"))
    changed = Reward.objects.filter(pk=reward.pk, stock__isnull=False, stock__gte=-delta).update(
        stock=F("stock") + delta, updated_at=clock.now()
    )
    if not changed:
        raise refuse(ErrorCode.OUT_OF_STOCK, _("Stock cannot go below zero (or this reward has unlimited stock)."))
    reward.refresh_from_db()
    record_audit("rewards.stock", obj=reward, after={"delta": delta, "stock": reward.stock}, reason=reason)
    return reward


@transaction.atomic
def do_add_partner_codes(*, reward: Reward, lines: Iterable[str]) -> int:
    """Add a partner's codes to the pool; duplicates of codes already there are skipped."""
    if reward.kind != RewardKind.PARTNER:
        raise refuse(ErrorCode.INVALID_REWARD, _("Only a partner reward has a pool of codes."))
    wanted = list(dict.fromkeys(c.strip() for c in lines if c.strip()))
    if any(len(c) > 100 for c in wanted):
        raise refuse(ErrorCode.INVALID_REWARD, _("A code is longer than 100 characters."), codes=_("too long"))
    now = clock.now()
    before = PartnerCode.objects.filter(reward=reward).count()
    PartnerCode.objects.bulk_create(
        [PartnerCode(reward=reward, code=c, added_at=now) for c in wanted], ignore_conflicts=True, batch_size=2000
    )
    added = PartnerCode.objects.filter(reward=reward).count() - before
    Reward.objects.filter(pk=reward.pk).update(stock=F("stock") + added, updated_at=now)
    record_audit("rewards.partner_codes", obj=reward, after={"added": added})
    return added


# =========================================================================== mall orders


def allows_tier(reward: Reward, tier_code: str | None) -> bool:
    """Eligible tiers on the reward, plus the live model's exclusive-rewards benefits naming it;
    none of either: every tier."""
    live = tier_services.live_model()
    allowed = set(reward.eligible_tiers)
    if live is not None:
        for spec in live.config.tiers:
            if any(isinstance(b, ExclusiveRewards) and reward.code in b.rewards for b in spec.benefits):
                allowed.add(spec.code)
    return not allowed or tier_code in allowed


def tier_allows(reward: Reward, member: Member) -> bool:
    return allows_tier(reward, tier_queries.tier_code_of(member))


def check_available(reward: Reward, *, store_id: int | None, at: dt.datetime | None = None) -> None:
    at = at or clock.now()
    if not reward.is_active:
        raise refuse(ErrorCode.REWARD_UNAVAILABLE, _("This reward is not offered now."))
    if reward.starts_at and at < reward.starts_at:
        raise refuse(ErrorCode.REWARD_UNAVAILABLE, _("This reward is not offered yet."))
    if reward.ends_at and at >= reward.ends_at:
        raise refuse(ErrorCode.REWARD_UNAVAILABLE, _("This reward is no longer offered."))
    if store_id is not None and reward.stores.exists() and not reward.stores.filter(pk=store_id).exists():
        raise refuse(ErrorCode.REWARD_UNAVAILABLE, _("This reward is not offered in this store."))


def _check_member_limit(reward: Reward, member: Member, quantity: int, at: dt.datetime) -> None:
    if reward.per_member_limit is None:
        return
    mine = RedemptionOrder.objects.filter(member=member, reward=reward).exclude(status=OrderStatus.CANCELLED)
    since = local_period_start(at, reward.per_member_period)
    if since is not None:
        mine = mine.filter(placed_at__gte=since)
    taken = mine.aggregate(n=Sum("quantity"))["n"] or 0
    if taken + quantity > reward.per_member_limit:
        raise refuse(
            ErrorCode.LIMIT_REACHED,
            _("This member may redeem %(n)s of this reward %(period)s and has %(taken)s.")
            % {"n": reward.per_member_limit, "period": reward.get_per_member_period_display(), "taken": taken},
        )


def _take_stock(reward: Reward, quantity: int) -> None:
    """One conditional UPDATE: stock and the overall limit hold under any number of concurrent orders."""
    room = Q(stock__isnull=True) | Q(stock__gte=quantity)
    within = Q(total_limit__isnull=True) | Q(sold__lte=F("total_limit") - quantity)
    if Reward.objects.filter(room & within, pk=reward.pk).update(
        stock=F("stock") - quantity, sold=F("sold") + quantity
    ):
        return
    current = Reward.objects.get(pk=reward.pk)
    if current.stock is not None and current.stock < quantity:
        raise refuse(ErrorCode.OUT_OF_STOCK, _("Out of stock (%(n)s left).") % {"n": current.stock})
    raise refuse(ErrorCode.LIMIT_REACHED, _("This reward has reached its limit."))


def _put_back_stock(reward_id: int, quantity: int) -> None:
    Reward.objects.filter(pk=reward_id).update(stock=F("stock") + quantity, sold=F("sold") - quantity)


def _order_number(at: dt.datetime) -> str:
    return "R" + at.astimezone(clock.member_zone()).strftime("%y%m%d") + codes.random_codes(1)[0][:8]


def _check_fulfilment(reward: Reward, fulfilment: str, pickup_store: Store | None, address: dict[str, str]) -> str:
    if reward.fulfilment == Fulfilment.DIGITAL:
        return Fulfilment.DIGITAL
    fulfilment = fulfilment or (reward.fulfilment if reward.fulfilment != Fulfilment.EITHER else "")
    if fulfilment not in (Fulfilment.PICKUP, Fulfilment.DELIVERY) or (
        reward.fulfilment != Fulfilment.EITHER and fulfilment != reward.fulfilment
    ):
        raise refuse(ErrorCode.INVALID_ORDER, _("Choose pick-up or delivery."), fulfilment=_("required"))
    if fulfilment == Fulfilment.PICKUP and pickup_store is None:
        raise refuse(ErrorCode.INVALID_ORDER, _("Choose the store to pick it up from."), pickup_store=_("required"))
    if fulfilment == Fulfilment.DELIVERY:
        missing = [k for k in ("name", "phone", "address") if not str(address.get(k, "")).strip()]
        if missing:
            raise refuse(
                ErrorCode.INVALID_ORDER,
                _("A delivery needs a name, phone and address."),
                **{f"address.{k}": _("required") for k in missing},
            )
    return fulfilment


def _check_coupon_room(reward: Reward, member: Member, quantity: int) -> None:
    if reward.kind == RewardKind.COUPON and reward.coupon_batch is not None:
        check_can_issue(reward.coupon_batch, member, quantity)


@dataclass(frozen=True)
class OrderRequest:
    member: Member
    reward: Reward
    quantity: int = 1
    channel: str = OrderChannel.CONSOLE
    store: Store | None = None  # where it is redeemed (visibility)
    fulfilment: str = ""
    pickup_store: Store | None = None
    address: dict[str, str] | None = None
    confirm: bool = True  # commit the points at once (the console, the till); e-commerce confirms after payment


@transaction.atomic
def do_place_order(*, request: OrderRequest) -> RedemptionOrder:
    """Take stock, hold the member's points and record the order; confirm it at once unless asked not to."""
    reward, member, quantity = request.reward, request.member, request.quantity
    if not 1 <= quantity <= 100:
        raise refuse(ErrorCode.INVALID_ORDER, _("Order between 1 and 100."), quantity=_("out of range"))
    now = clock.now()
    check_available(reward, store_id=request.store.pk if request.store else None, at=now)
    address = {
        k: str(v)[:200] for k, v in (request.address or {}).items() if k in ("name", "phone", "address", "postcode")
    }
    fulfilment = _check_fulfilment(reward, request.fulfilment, request.pickup_store, address)
    if not tier_allows(reward, member):
        raise refuse(ErrorCode.NOT_ELIGIBLE, _("This reward is for other tiers."))
    _take_stock(reward, quantity)
    member = lock_member(member.pk)
    if member.status != MemberStatus.ACTIVE:
        raise refuse(
            ErrorCode.MEMBER_NOT_ACTIVE,
            _("This membership is %(s)s: it cannot redeem.") % {"s": member.get_status_display()},
        )
    _check_member_limit(reward, member, quantity, now)
    _check_coupon_room(reward, member, quantity)
    number = _order_number(now)
    points = reward.points * quantity
    hold = ledger.do_hold(member=member, points=points, reference=number) if points else None
    order = RedemptionOrder.objects.create(
        number=number,
        member=member,
        reward=reward,
        quantity=quantity,
        points=points,
        cash=reward.cash * quantity,
        currency=reward.currency,
        channel=request.channel,
        store=request.store,
        placed_by=current_actor().label[:150],
        hold=hold,
        fulfilment=fulfilment,
        pickup_store=request.pickup_store if fulfilment == Fulfilment.PICKUP else None,
        address=address if fulfilment == Fulfilment.DELIVERY else {},
        placed_at=now,
    )
    if reward.kind == RewardKind.PARTNER:
        _reserve_partner_codes(order)
    add_timeline(member, "reward_ordered", order=number, reward=reward.name, points=points, quantity=quantity)
    record_audit("rewards.order", obj=order, after={"reward": reward.code, "points": points, "quantity": quantity})
    publish(events.RewardOrderPlaced(order.pk, member.pk, reward.code, points))
    if request.confirm:
        order = _confirm(order)
    return order


def _reserve_partner_codes(order: RedemptionOrder) -> None:
    # The reward row is locked by the stock update, so no other order picks these codes meanwhile.
    free = list(
        PartnerCode.objects.filter(reward_id=order.reward_id, order__isnull=True).order_by("id")[: order.quantity]
    )
    if len(free) < order.quantity:  # the stock said there were codes: it and the pool disagree
        raise refuse(ErrorCode.OUT_OF_STOCK, _("The partner's code pool is empty."))
    PartnerCode.objects.filter(pk__in=[c.pk for c in free]).update(order=order)


def _move(
    order: RedemptionOrder, from_: Sequence[str], to: str, *, only_if: Q | None = None, **fields: Any
) -> RedemptionOrder:
    """Change the order's status exactly once (and only while `only_if` holds); a second,
    concurrent caller is refused."""
    if not RedemptionOrder.objects.filter(only_if or Q(), pk=order.pk, status__in=from_).update(status=to, **fields):
        current = RedemptionOrder.objects.get(pk=order.pk)
        raise refuse(ErrorCode.ORDER_STATE, _("This order is %(status)s.") % {"status": current.get_status_display()})
    order.refresh_from_db()
    return order


@transaction.atomic
def do_confirm_order(*, order: RedemptionOrder) -> RedemptionOrder:
    return _confirm(order)


def _confirm(order: RedemptionOrder) -> RedemptionOrder:
    now = clock.now()
    order = _move(order, [OrderStatus.PLACED], OrderStatus.CONFIRMED, confirmed_at=now)
    if order.hold_id is not None:
        hold = Hold.objects.get(pk=order.hold_id)
        if hold.status != HoldStatus.OPEN:
            raise refuse(ErrorCode.ORDER_STATE, _("The points hold has lapsed; cancel and place the order again."))
        ledger.do_commit_hold(hold=hold, memo=order.number)
    reward = order.reward
    record_audit("rewards.confirm", obj=order, after={"status": OrderStatus.CONFIRMED})
    publish(events.RewardOrderConfirmed(order.pk, order.member_id, reward.code, reward.kind))
    if reward.kind == RewardKind.COUPON and reward.coupon_batch is not None:
        batch = reward.coupon_batch
        coupons = [issue_locked(batch, order.member, CouponSource.REWARD, order.number) for _i in range(order.quantity)]
        order.coupon = coupons[0]
        order.save(update_fields=["coupon"])
        return _fulfil(order, reference=",".join(c.code or "" for c in coupons))
    if reward.kind == RewardKind.SERVICE:
        order.voucher_code = codes.random_codes(1)[0]
        order.valid_until = clock.local_day_end(
            (now + dt.timedelta(days=reward.service_days or 0)).astimezone(clock.member_zone()).date()
        )
        order.save(update_fields=["voucher_code", "valid_until"])
        return _fulfil(order)
    if reward.kind == RewardKind.PARTNER:
        return _fulfil(order)
    return order  # gifts wait for pick-up or shipping; stored value for the wallet's credit


def _fulfil(
    order: RedemptionOrder, *, carrier: str = "", tracking_no: str = "", reference: str = ""
) -> RedemptionOrder:
    order = _move(
        order,
        [OrderStatus.CONFIRMED],
        OrderStatus.FULFILLED,
        fulfilled_at=clock.now(),
        fulfilled_by=current_actor().label[:150],
        carrier=carrier[:40],
        tracking_no=tracking_no[:60],
        reference=reference[:100],
    )
    add_timeline(order.member, "reward_fulfilled", order=order.number, reward=order.reward.name)
    publish(events.RewardOrderFulfilled(order.pk, order.member_id))
    return order


@transaction.atomic
def do_fulfil_order(
    *,
    order: RedemptionOrder,
    carrier: str = "",
    tracking_no: str = "",
    reference: str = "",
    at_store: Store | None = None,
) -> RedemptionOrder:
    """Hand a gift over in store, ship it with a tracking number, or record the stored-value credit."""
    if order.reward.kind not in (RewardKind.GIFT, RewardKind.STORED_VALUE):
        raise refuse(ErrorCode.ORDER_STATE, _("This order was delivered when it was confirmed."))
    if at_store is not None and order.fulfilment == Fulfilment.PICKUP and order.pickup_store_id != at_store.pk:
        raise refuse(ErrorCode.ORDER_STATE, _("This order is picked up in another store."))
    if order.fulfilment == Fulfilment.DELIVERY and not tracking_no.strip():
        raise refuse(
            ErrorCode.INVALID_ORDER, _("A shipped order needs its tracking number."), tracking_no=_("required")
        )
    if order.reward.kind == RewardKind.STORED_VALUE and not reference.strip():
        raise refuse(ErrorCode.INVALID_ORDER, _("Give the wallet's credit reference."), reference=_("required"))
    order = _fulfil(order, carrier=carrier.strip(), tracking_no=tracking_no.strip(), reference=reference.strip())
    record_audit("rewards.fulfil", obj=order, after={"tracking_no": tracking_no, "reference": reference})
    return order


def cancellable(order: RedemptionOrder) -> bool:
    """Placed and confirmed orders can be cancelled; a fulfilled one only while what it delivered is
    unused (a coupon not redeemed, a voucher not used); a gift handed over or a partner code shown, never."""
    if order.status in (OrderStatus.PLACED, OrderStatus.CONFIRMED):
        return True
    if order.status != OrderStatus.FULFILLED:
        return False
    if order.reward.kind == RewardKind.COUPON:
        issued = Coupon.objects.filter(source=CouponSource.REWARD, source_ref=order.number)
        return not issued.exclude(status=CouponStatus.ISSUED).exists()
    if order.reward.kind == RewardKind.SERVICE:
        return order.used_at is None
    return False


@transaction.atomic
def do_cancel_order(*, order: RedemptionOrder, reason: str) -> RedemptionOrder:
    """Cancel: stock and the points come back (held points are released, committed ones returned)."""
    reason = (reason or "").strip()[:200]
    if not reason:
        raise refuse(ErrorCode.CANNOT_CANCEL, _("Say why the order is cancelled."), reason=_("required"))
    order = RedemptionOrder.objects.select_related("reward").get(pk=order.pk)
    if not cancellable(order):
        raise refuse(ErrorCode.CANNOT_CANCEL, _("This order can no longer be cancelled."))
    was = order.status
    # The "still unused" conditions go into the writes themselves: a voucher used or a coupon
    # redeemed while this runs makes the cancel fail instead of giving the points back.
    unused = Q(used_at__isnull=True) if order.reward.kind == RewardKind.SERVICE else None
    order = _move(order, [was], OrderStatus.CANCELLED, only_if=unused, cancelled_at=clock.now(), cancel_reason=reason)
    _put_back_stock(order.reward_id, order.quantity)
    PartnerCode.objects.filter(order=order).update(order=None)
    _void_order_coupons(order)
    _give_points_back(order)
    add_timeline(order.member, "reward_cancelled", order=order.number, reward=order.reward.name, reason=reason)
    record_audit("rewards.cancel", obj=order, after={"status": OrderStatus.CANCELLED, "was": was}, reason=reason)
    publish(events.RewardOrderCancelled(order.pk, order.member_id, reason))
    return order


def _void_order_coupons(order: RedemptionOrder) -> None:
    """Void the coupons the order issued; all of them must still be unused."""
    issued = Coupon.objects.filter(source=CouponSource.REWARD, source_ref=order.number)
    voided = issued.filter(status=CouponStatus.ISSUED).update(status=CouponStatus.VOIDED)
    if voided != issued.count():
        raise refuse(ErrorCode.CANNOT_CANCEL, _("This order can no longer be cancelled."))


def _give_points_back(order: RedemptionOrder) -> None:
    if order.hold_id is None:
        return
    hold = Hold.objects.get(pk=order.hold_id)
    if hold.status == HoldStatus.OPEN:
        ledger.do_void_hold(hold=hold)
    elif hold.status == HoldStatus.COMMITTED:
        spend = Journal.objects.get(hold=hold, kind=JournalKind.COMMIT)
        ledger.do_return_spend(spend=spend, reason=_("Order %(n)s cancelled") % {"n": order.number})
    # voided or expired: the ledger already gave them back


@transaction.atomic
def do_use_voucher(*, order: RedemptionOrder) -> RedemptionOrder:
    """The member used a service voucher (the car wash was done), once, while it is valid."""
    if order.reward.kind != RewardKind.SERVICE:
        raise refuse(ErrorCode.ORDER_STATE, _("This order is not a service voucher."))
    now = clock.now()
    if order.valid_until and now > order.valid_until:
        raise refuse(ErrorCode.ORDER_STATE, _("This voucher expired on %(d)s.") % {"d": order.valid_until.date()})
    used = RedemptionOrder.objects.filter(pk=order.pk, status=OrderStatus.FULFILLED, used_at__isnull=True).update(
        used_at=now
    )
    if not used:
        raise refuse(ErrorCode.ORDER_STATE, _("This voucher was already used or the order is cancelled."))
    order.refresh_from_db()
    add_timeline(order.member, "voucher_used", order=order.number, reward=order.reward.name)
    record_audit("rewards.voucher_used", obj=order, after={"used_at": str(now)})
    return order


def cancel_lapsed_orders(now: dt.datetime | None = None) -> int:
    """Placed orders whose points hold ran out (never confirmed) are cancelled and their stock returned."""
    now = now or clock.now()
    lapsed = RedemptionOrder.objects.filter(status=OrderStatus.PLACED).filter(
        Q(hold__expires_at__lte=now) | Q(hold__status__in=[HoldStatus.EXPIRED, HoldStatus.VOIDED])
    )
    count = 0
    for order in lapsed.order_by("id"):
        try:
            do_cancel_order(order=order, reason=_("Not confirmed in time"))
            count += 1
        except ValidationFailed:
            continue  # confirmed or cancelled meanwhile
    return count
