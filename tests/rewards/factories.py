"""Rewards, coupon batches and members with points, made through the services."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from patron.core import clock
from patron.ledger import services as ledger
from patron.members.models import Member
from patron.rewards import services
from patron.rewards.models import CouponBatch, Reward
from tests.factories import make_member

_seq = itertools.count(1)


def member_with_points(points: int = 10_000, **kw: Any) -> Member:
    member = make_member(**kw)
    if points:
        ledger.do_earn(member=member, points=points, point_type="bonus", memo="test")
    member.refresh_from_db()
    return member


def make_gift(points: int = 1000, stock: int | None = 10, **kw: Any) -> Reward:
    code = kw.pop("code", f"gift-{next(_seq)}")
    fields: dict[str, Any] = {
        "kind": "gift",
        "name": kw.pop("name", "保温杯"),
        "name_en": "Vacuum flask",
        "points": points,
        "fulfilment": kw.pop("fulfilment", "pickup"),
        "stock": stock,
    }
    fields.update(kw)
    return services.do_create_reward(code=code, **fields)


def make_batch(**kw: Any) -> CouponBatch:
    code = kw.pop("code", f"batch-{next(_seq)}")
    fields: dict[str, Any] = {
        "name": kw.pop("name", "满100减20"),
        "name_en": "20 off 100",
        "kind": "amount_off",
        "amount_off": Decimal("20.00"),
        "min_spend": Decimal("100.00"),
        "valid_until": clock.now() + dt.timedelta(days=30),
    }
    fields.update(kw)
    return services.do_create_batch(code=code, **fields)


def make_coupon_reward(batch: CouponBatch, points: int = 500, **kw: Any) -> Reward:
    return services.do_create_reward(
        code=kw.pop("code", f"coupon-{next(_seq)}"),
        kind="coupon",
        name=kw.pop("name", "20元优惠券"),
        points=points,
        fulfilment="digital",
        coupon_batch=batch,
        **kw,
    )


def make_service_reward(points: int = 300, **kw: Any) -> Reward:
    """A privilege or service voucher (a car wash), valid for `service_days` after it is redeemed."""
    return services.do_create_reward(
        code=kw.pop("code", f"service-{next(_seq)}"),
        kind="service",
        name=kw.pop("name", "免费洗车"),
        points=points,
        fulfilment="digital",
        service_days=kw.pop("service_days", 30),
        **kw,
    )


def make_partner_reward(points: int = 500, codes: tuple[str, ...] = (), **kw: Any) -> Reward:
    """A partner's reward with `codes` in its pool (its stock is the pool's free codes)."""
    reward = services.do_create_reward(
        code=kw.pop("code", f"partner-{next(_seq)}"),
        kind="partner",
        name=kw.pop("name", "视频会员月卡"),
        points=points,
        fulfilment="digital",
        **kw,
    )
    if codes:
        services.do_add_partner_codes(reward=reward, lines=codes)
        reward.refresh_from_db()
    return reward


def place_order(member: Member, reward: Reward, **kw: Any) -> Any:
    """An order through the service (a gift picked up in `pickup_store`, when it is a gift)."""
    return services.do_place_order(request=services.OrderRequest(member=member, reward=reward, **kw))


def make_badge(code: str | None = None, rule: dict[str, Any] | None = None, **kw: Any) -> Any:
    fields: dict[str, Any] = {"name": kw.pop("name", "首单达人"), "name_en": kw.pop("name_en", "First purchase")}
    fields.update(kw)
    return services.do_save_badge(code=code or f"badge-{next(_seq)}", rule=rule or {"kind": "first_purchase"}, **fields)
