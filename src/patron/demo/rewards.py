"""The demo's points mall, coupons and badges, and a few months of their use.

Everything goes through the rewards services (so the ledger, stock and coupon invariants hold), at
the times it would have happened: a sample of members with points redeem gifts and coupons over the
last 90 days, coupons are issued and some are used at the member's later sales, and the badges are
given to everyone who already qualifies. Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from patron.core import clock
from patron.core.errors import DomainError
from patron.ledger.models import Account, AccountKind
from patron.members.models import Member, Store, Transaction, TransactionKind
from patron.rewards import discounts, services
from patron.rewards.models import Badge, CouponBatch, Reward

D = Decimal

CATEGORIES = [
    ("home", "家居生活", "Home", 1),
    ("food", "美食饮品", "Food & drink", 2),
    ("digital", "数码电子", "Digital", 3),
    ("coupons", "优惠券", "Coupons", 4),
    ("services", "服务权益", "Services", 5),
]

BATCHES: list[dict[str, Any]] = [
    {
        "code": "MAN100-20",
        "name": "满100减20",
        "name_en": "¥20 off ¥100",
        "kind": "amount_off",
        "amount_off": D("20"),
        "min_spend": D("100"),
        "valid_days": 30,
        "per_member_limit": 3,
    },
    {
        "code": "ZHE9",
        "name": "全场9折券（最高减50）",
        "name_en": "10% off (up to ¥50)",
        "kind": "percent_off",
        "percent_off": 10,
        "max_discount": D("50"),
        "min_spend": D("50"),
        "valid_days": 14,
        "stacking": "stackable",
        "max_per_order": 2,
        "per_member_limit": 2,
    },
    {
        "code": "DRINK-10",
        "name": "饮品满30减10",
        "name_en": "¥10 off drinks over ¥30",
        "kind": "amount_off",
        "amount_off": D("10"),
        "min_spend": D("30"),
        "categories": ["饮料"],
        "valid_days": 30,
        "stacking": "stackable",
        "max_per_order": 2,
        "per_member_limit": 5,
    },
    {
        "code": "BDAY-DIAMOND",
        "name": "钻石会员生日券 ¥100",
        "name_en": "Diamond birthday ¥100",
        "kind": "amount_off",
        "amount_off": D("100"),
        "min_spend": D("200"),
        "valid_days": 30,
        "per_member_limit": 100,
    },
    {
        "code": "NEWYEAR",
        "name": "新年口令券 满200减30",
        "name_en": "New Year code ¥30 off ¥200",
        "kind": "amount_off",
        "amount_off": D("30"),
        "min_spend": D("200"),
        "code_mode": "shared",
        "shared_code": "XINNIAN2027",
        "usage_limit": 5000,
        "per_member_limit": 1,
        "claimable": True,
        "valid_days": 60,
    },
    {
        "code": "PRINTED-15",
        "name": "门店派发券 满80减15",
        "name_en": "Flyer ¥15 off ¥80",
        "kind": "amount_off",
        "amount_off": D("15"),
        "min_spend": D("80"),
        "claimable": True,
        "valid_days": 90,
        "per_member_limit": 2,
    },
]

REWARDS: list[dict[str, Any]] = [
    {
        "code": "thermos",
        "kind": "gift",
        "name": "膳魔师保温杯 480ml",
        "name_en": "Thermos flask 480 ml",
        "category": "home",
        "points": 3800,
        "fulfilment": "either",
        "stock": 120,
    },
    {
        "code": "towel-set",
        "kind": "gift",
        "name": "纯棉毛巾两件套",
        "name_en": "Cotton towel set",
        "category": "home",
        "points": 1200,
        "fulfilment": "pickup",
        "stock": 400,
        "per_member_limit": 2,
        "per_member_period": "month",
    },
    {
        "code": "rice-5kg",
        "kind": "gift",
        "name": "五常大米 5kg",
        "name_en": "Wuchang rice 5 kg",
        "category": "food",
        "points": 2500,
        "fulfilment": "pickup",
        "stock": 300,
    },
    {
        "code": "earbuds",
        "kind": "gift",
        "name": "蓝牙耳机",
        "name_en": "Bluetooth earbuds",
        "category": "digital",
        "points": 9900,
        "cash": D("49.00"),
        "fulfilment": "delivery",
        "stock": 30,
    },
    {
        "code": "coupon-20",
        "kind": "coupon",
        "name": "满100减20优惠券",
        "name_en": "¥20 off ¥100 coupon",
        "category": "coupons",
        "points": 500,
        "fulfilment": "digital",
        "coupon_batch": "MAN100-20",
    },
    {
        "code": "coupon-zhe9",
        "kind": "coupon",
        "name": "全场9折券",
        "name_en": "10% off coupon",
        "category": "coupons",
        "points": 800,
        "fulfilment": "digital",
        "coupon_batch": "ZHE9",
    },
    {
        "code": "car-wash",
        "kind": "service",
        "name": "免费洗车券",
        "name_en": "Free car wash",
        "category": "services",
        "points": 1500,
        "fulfilment": "digital",
        "service_days": 60,
    },
    {
        "code": "diamond-lounge",
        "kind": "service",
        "name": "机场贵宾厅通行证",
        "name_en": "Airport lounge pass",
        "category": "services",
        "points": 6000,
        "fulfilment": "digital",
        "service_days": 180,
        "eligible_tiers": ["diamond"],
    },
    {
        "code": "video-month",
        "kind": "partner",
        "name": "视频会员月卡",
        "name_en": "Video streaming, one month",
        "category": "digital",
        "points": 2000,
        "fulfilment": "digital",
    },
    {
        "code": "cash-back-10",
        "kind": "stored_value",
        "name": "10元储值金",
        "name_en": "¥10 stored value",
        "category": "services",
        "points": 1000,
        "fulfilment": "digital",
        "value": D("10.00"),
    },
]

BADGES: list[dict[str, Any]] = [
    {
        "code": "first-purchase",
        "name": "初次见面",
        "name_en": "First purchase",
        "icon": "🛍️",
        "rule": {"kind": "first_purchase"},
        "description": "完成第一笔消费",
        "description_en": "Made a first purchase",
    },
    {
        "code": "ten-purchases",
        "name": "常客",
        "name_en": "Regular",
        "icon": "🔟",
        "rule": {"kind": "purchases", "count": 10},
        "description": "累计消费10次",
        "description_en": "10 purchases",
    },
    {
        "code": "big-spender",
        "name": "消费达人",
        "name_en": "Big spender",
        "icon": "💎",
        "rule": {"kind": "spend", "amount": "5000"},
        "description": "累计消费满5000元",
        "description_en": "Spent ¥5,000 in all",
    },
    {
        "code": "checkin-7",
        "name": "签到达人",
        "name_en": "Seven-day streak",
        "icon": "📅",
        "rule": {"kind": "checkin_streak", "days": 7},
        "description": "连续签到7天",
        "description_en": "Checked in 7 days in a row",
    },
    {
        "code": "gold-tier",
        "name": "金卡会员",
        "name_en": "Gold member",
        "icon": "🥇",
        "color": "#d4a017",
        "rule": {"kind": "tier_reached", "tier": "gold"},
        "description": "达到金卡或以上",
        "description_en": "Reached Gold or above",
    },
]


@dataclass
class RewardsStats:
    rewards: int = 0
    orders: int = 0
    coupons: int = 0
    redemptions: int = 0
    badges: int = 0


def ensure_rewards(now: dt.datetime, seed: int = 7) -> RewardsStats:
    """The catalog, batches and badges (once), then their use by a sample of members."""
    stats = RewardsStats()
    if Reward.objects.exists():
        return stats
    rng = random.Random(seed)
    stores = list(Store.objects.filter(is_active=True).order_by("id"))
    with clock.frozen(now - dt.timedelta(days=120)):
        _catalog(stores, rng)
    stats.rewards = Reward.objects.count()
    members = _members_with_points(rng, limit=600)
    stats.orders = _orders(members, stores, now, rng)
    stats.coupons, stats.redemptions = _coupons_used_at_sales(members, now, rng)
    with clock.frozen(now):
        for badge in Badge.objects.all():
            stats.badges += services.backfill_badge(badge)
    return stats


def _catalog(stores: list[Store], rng: random.Random) -> None:
    for code, name, name_en, position in CATEGORIES:
        services.do_save_category(code=code, name=name, name_en=name_en, position=position)
    for fields in BATCHES:
        services.do_create_batch(**fields)
    services.do_generate_codes(batch=CouponBatch.objects.get(code="PRINTED-15"), count=2000)
    from patron.rewards.models import RewardCategory

    for position, spec in enumerate(REWARDS):
        fields = dict(spec)
        fields["category"] = RewardCategory.objects.get(code=fields["category"])
        if "coupon_batch" in fields:
            fields["coupon_batch"] = CouponBatch.objects.get(code=fields["coupon_batch"])
        shown_in = stores[: max(1, len(stores) // 2)] if spec["code"] == "rice-5kg" else []
        reward = services.do_create_reward(position=position, stores=shown_in, **fields)
        if reward.kind == "partner":
            services.do_add_partner_codes(
                reward=reward, lines=[f"VIP{rng.randrange(10**11, 10**12)}" for _ in range(500)]
            )
    for spec in BADGES:
        services.do_save_badge(**spec)


def _members_with_points(rng: random.Random, limit: int) -> list[Member]:
    """Members who have points to spend, the richest first, shuffled into a sample."""
    rich = (
        Account.objects.filter(kind=AccountKind.AVAILABLE, member__isnull=False, balance__gte=1500)
        .order_by("-balance")
        .values_list("member_id", flat=True)[: limit * 3]
    )
    ids = sorted(set(rich))
    rng.shuffle(ids)
    return list(Member.objects.filter(pk__in=ids[:limit], status="active").order_by("id"))


def _orders(members: list[Member], stores: list[Store], now: dt.datetime, rng: random.Random) -> int:
    rewards = list(Reward.objects.exclude(code="diamond-lounge").order_by("position"))
    weights = [6, 5, 4, 1, 8, 4, 3, 3, 2][: len(rewards)]
    placed = 0
    for member in members:
        at = now - dt.timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 600))
        reward = rng.choices(rewards, weights=weights)[0]
        pickup = rng.choice(stores) if stores else None
        address = {
            "name": member.name,
            "phone": member.phone,
            "address": f"{member.city or '上海'}市人民路{rng.randint(1, 999)}号",
        }
        with clock.frozen(at):
            try:
                order = services.do_place_order(
                    request=services.OrderRequest(
                        member=member,
                        reward=reward,
                        channel=rng.choice(["console", "api", "api"]),
                        fulfilment="pickup" if reward.fulfilment in ("pickup", "either") else "delivery",
                        pickup_store=pickup,
                        address=address,
                    )
                )
            except DomainError:
                continue
        placed += 1
        _progress(order, at, now, rng)
    return placed


def _progress(order: Any, at: dt.datetime, now: dt.datetime, rng: random.Random) -> None:
    """Most gifts were handed over a few days later; a few were cancelled; recent ones still wait."""
    later = min(now, at + dt.timedelta(days=rng.randint(1, 6)))
    with clock.frozen(later):
        try:
            if order.reward.kind == "gift" and later < now - dt.timedelta(days=3) and rng.random() < 0.85:
                tracking = f"SF{rng.randrange(10**11, 10**12)}" if order.fulfilment == "delivery" else ""
                services.do_fulfil_order(order=order, carrier="顺丰速运" if tracking else "", tracking_no=tracking)
            elif order.reward.kind == "stored_value" and rng.random() < 0.9:
                services.do_fulfil_order(order=order, reference=f"W{rng.randrange(10**8, 10**9)}")
            elif order.reward.kind == "service" and rng.random() < 0.5:
                services.do_use_voucher(order=order)
            elif rng.random() < 0.04 and services.cancellable(order):
                services.do_cancel_order(order=order, reason="会员改变主意")
        except DomainError:
            pass


def _coupons_used_at_sales(members: list[Member], now: dt.datetime, rng: random.Random) -> tuple[int, int]:
    """Coupons issued to members some days before one of their sales; about half used at that sale."""
    batch = CouponBatch.objects.get(code="MAN100-20")
    since = now - dt.timedelta(days=90)
    issued = used = 0
    for member in members:
        sale = (
            Transaction.objects.filter(
                member=member, kind=TransactionKind.SALE, occurred_at__gte=since, occurred_at__lte=now, amount__gte=100
            )
            .order_by("occurred_at")
            .first()
        )
        if sale is None:
            continue
        with clock.frozen(sale.occurred_at - dt.timedelta(days=rng.randint(2, 20))):
            try:
                coupon = services.do_issue_coupon(batch=batch, member=member, source="campaign", source_ref="demo")
            except DomainError:
                continue
        issued += 1
        if rng.random() < 0.55:
            basket = discounts.Basket(amount=sale.amount, currency=sale.currency, store_id=sale.store_id)
            request = services.RedeemRequest(
                texts=(coupon.code or "",),
                basket=basket,
                member=member,
                store=sale.store,
                sale_external_id=sale.external_id,
            )
            with clock.frozen(sale.occurred_at):
                try:
                    services.do_redeem_coupons(request=request)
                    used += 1
                except DomainError:
                    pass
    return issued, used
