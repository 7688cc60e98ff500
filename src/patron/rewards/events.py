"""What happened in the points mall, to coupons and to badges, for messaging and campaigns (after commit)."""

from __future__ import annotations

from dataclasses import dataclass

from patron.core.events import DomainEvent


@dataclass(frozen=True)
class RewardOrderPlaced(DomainEvent):
    order_id: int
    member_id: int
    reward_code: str
    points: int


@dataclass(frozen=True)
class RewardOrderConfirmed(DomainEvent):
    order_id: int
    member_id: int
    reward_code: str
    kind: str  # a stored-value order tells the wallet or POS to credit `value` here


@dataclass(frozen=True)
class RewardOrderFulfilled(DomainEvent):
    order_id: int
    member_id: int


@dataclass(frozen=True)
class RewardOrderCancelled(DomainEvent):
    order_id: int
    member_id: int
    reason: str


@dataclass(frozen=True)
class CouponIssued(DomainEvent):
    coupon_id: int
    member_id: int
    batch_code: str
    source: str


@dataclass(frozen=True)
class CouponRedeemed(DomainEvent):
    redemption_id: int
    batch_code: str
    member_id: int | None


@dataclass(frozen=True)
class BadgeAwarded(DomainEvent):
    member_id: int
    badge_code: str
