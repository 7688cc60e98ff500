"""Tier models for common programs, as data. Each is a starting point to edit and simulate.

- `retail_spend`: 普通 / 银卡 / 金卡 / 钻石 by spend over the calendar year (or purchase days for
  silver), reviewed on 1 January, one level down at a time. No tier is for life: that is the
  program's call.
- `hotel_nights`: stays counted as purchase days over a rolling 12 months, reviewed on the
  anniversary of the tier, with a 30-day grace period.
- `gym_visits`: visits (purchase days) over a rolling 6 months, reviewed every 6 months, straight
  to the qualified level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    name_en: str
    description: Any  # lazy translation
    config: dict[str, Any]

    def display(self) -> str:
        return self.name if (get_language() or "zh-hans").startswith("zh") else self.name_en


def _tier(code: str, name: str, name_en: str, color: str, qualify: dict[str, Any], *benefits: dict[str, Any]) -> dict:
    return {
        "code": code,
        "name": name,
        "name_en": name_en,
        "color": color,
        "qualify": qualify,
        "benefits": list(benefits),
    }


def _multiplier(factor: str) -> dict[str, Any]:
    return {"kind": "earn_multiplier", "factor": factor}


def _birthday(points: int, cost: str) -> dict[str, Any]:
    return {"kind": "birthday_gift", "points": points, "estimated_cost": cost}


RETAIL_SPEND = {
    "tiers": [
        _tier("member", "普通会员", "Member", "#8c8c8c", {}),
        _tier(
            "silver",
            "银卡",
            "Silver",
            "#a0a7b4",
            {"combine": "any", "spend": "2000", "purchase_days": 12},
            _multiplier("1.2"),
            _birthday(200, "2"),
        ),
        _tier(
            "gold",
            "金卡",
            "Gold",
            "#d4a017",
            {"spend": "8000"},
            _multiplier("1.5"),
            _birthday(500, "5"),
            {
                "kind": "free_service",
                "service": "gift_wrap",
                "name": "免费礼品包装",
                "name_en": "Free gift wrapping",
                "count": 6,
                "per": "year",
                "unit_cost": "8",
            },
        ),
        _tier(
            "diamond",
            "钻石",
            "Diamond",
            "#4f6bed",
            {"spend": "30000"},
            _multiplier("2"),
            {"kind": "birthday_gift", "coupon_batch": "BDAY-DIAMOND", "estimated_cost": "100"},
            {"kind": "priority_line", "line": "vip"},
            {"kind": "event_access", "event_tags": ["vip"]},
            {"kind": "exclusive_rewards", "rewards": ["diamond-lounge"]},
        ),
    ],
    "window": {"kind": "calendar_year"},
    "review": {"kind": "fixed_date", "month": 1, "day": 1},
    "downgrade": "one_level",
    "grace_days": 0,
    "at_risk_days": 30,
    "refund_reverts_upgrade": True,
}

HOTEL_NIGHTS = {
    "tiers": [
        _tier("classic", "经典会员", "Classic", "#8c8c8c", {}),
        _tier("silver", "银卡", "Silver", "#a0a7b4", {"purchase_days": 10}, _multiplier("1.1")),
        _tier(
            "gold",
            "金卡",
            "Gold",
            "#d4a017",
            {"purchase_days": 25},
            _multiplier("1.5"),
            {
                "kind": "free_service",
                "service": "late_checkout",
                "name": "延迟退房",
                "name_en": "Late check-out",
                "count": 12,
                "per": "year",
                "unit_cost": "30",
            },
        ),
        _tier(
            "platinum",
            "白金卡",
            "Platinum",
            "#5b5f97",
            {"purchase_days": 50},
            _multiplier("2"),
            {
                "kind": "free_service",
                "service": "lounge",
                "name": "行政酒廊",
                "name_en": "Executive lounge",
                "count": 2,
                "per": "month",
                "unit_cost": "120",
            },
            {"kind": "priority_line", "line": "platinum"},
        ),
    ],
    "window": {"kind": "rolling", "months": 12},
    "review": {"kind": "anniversary"},
    "downgrade": "one_level",
    "grace_days": 30,
    "at_risk_days": 45,
    "refund_reverts_upgrade": True,
}

GYM_VISITS = {
    "tiers": [
        _tier("basic", "基础会员", "Basic", "#8c8c8c", {}),
        _tier(
            "active",
            "活跃会员",
            "Active",
            "#2e9e5b",
            {"purchase_days": 24},
            {
                "kind": "free_service",
                "service": "towel",
                "name": "毛巾服务",
                "name_en": "Towel service",
                "count": 4,
                "per": "month",
                "unit_cost": "3",
            },
        ),
        _tier(
            "elite",
            "精英会员",
            "Elite",
            "#c0392b",
            {"purchase_days": 60},
            {
                "kind": "free_service",
                "service": "pt_session",
                "name": "私教体验课",
                "name_en": "Personal training session",
                "count": 1,
                "per": "month",
                "unit_cost": "80",
            },
            {"kind": "event_access", "event_tags": ["elite"]},
        ),
    ],
    "window": {"kind": "rolling", "months": 6},
    "review": {"kind": "every_n_months", "months": 6},
    "downgrade": "to_qualified",
    "grace_days": 0,
    "at_risk_days": 14,
    "refund_reverts_upgrade": False,
}

PRESETS = {
    p.key: p
    for p in (
        Preset(
            "retail_spend",
            "零售消费等级",
            "Retail spend tiers",
            _("Spend over the calendar year; reviewed every 1 January."),
            RETAIL_SPEND,
        ),
        Preset(
            "hotel_nights",
            "酒店住宿等级",
            "Hotel nights",
            _("Stays over a rolling 12 months; reviewed on the tier's anniversary, 30 days' grace."),
            HOTEL_NIGHTS,
        ),
        Preset(
            "gym_visits",
            "健身到店等级",
            "Gym visits",
            _("Visits over a rolling 6 months; reviewed every 6 months."),
            GYM_VISITS,
        ),
    )
}


def get(key: str) -> Preset | None:
    return PRESETS.get(key)
