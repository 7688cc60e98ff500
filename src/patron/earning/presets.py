"""Presets for common programs, as data: each builds a rule config the rule editor can start from.

A preset is a name, a description and a function of a few parameters that returns the config as
plain JSON (what `EarningRule.config` stores). Every preset's output passes `check_rule_config`
(tests/earning/test_presets.py checks them all).

The base-rate presets share the best-of group "base", so a store that runs a retail rate and a
dinner rate gives each sale the better of the two rather than both.

Not here: a birthday-month bonus. Whether a sale falls in the member's birthday month is a fact of
the member, and the engine does not know birthdays yet (`MemberFacts` has tags, attributes and a
tier); it belongs with the birthday journey that S6 describes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

Config = dict[str, Any]

BASE_GROUP = "base"


def retail_base(rate: str = "1") -> Config:
    """1 point per ¥1 spent, rounded down."""
    return {
        "kind": "base",
        "rate": rate,
        "rounding": "floor",
        "combine": "best_of",
        "group": BASE_GROUP,
        "priority": 100,
    }


def weekend_double() -> Config:
    """Double points on Saturdays and Sundays."""
    return {"kind": "multiplier", "factor": "2", "conditions": {"days_of_week": [6, 7]}, "priority": 50}


def category_multiplier(category: str = "", factor: str = "3") -> Config:
    """3× points on one product category (only that category's lines)."""
    return {"kind": "multiplier", "factor": factor, "conditions": {"categories": [category]}, "priority": 50}


def happy_hour(start: str = "18:00", end: str = "22:00", factor: str = "2") -> Config:
    """Double points in the evening."""
    return {
        "kind": "multiplier",
        "factor": factor,
        "conditions": {"time_window": {"start": start, "end": end}},
        "priority": 50,
    }


def store_opening(store: str = "", points: int = 200, days: int = 14, starts: str = "") -> Config:
    """A fixed bonus at a new store for its first weeks, once per member per day."""
    start = dt.date.fromisoformat(starts) if starts else None
    date_range: dict[str, Any] | None = None
    if start is not None:
        date_range = {"start": start.isoformat(), "end": (start + dt.timedelta(days=days - 1)).isoformat()}
    conditions: dict[str, Any] = {"stores": [store]}
    if date_range:
        conditions["date_range"] = date_range
    return {
        "kind": "fixed_bonus",
        "points": points,
        "conditions": conditions,
        "caps": {"per_member_day": points},
        "priority": 40,
    }


def restaurant_dinner(rate: str = "10", start: str = "17:00", end: str = "22:00") -> Config:
    """A restaurant's dinner rate: 10 points per ¥1 in the evening (the better of it and the retail rate)."""
    return {
        "kind": "base",
        "rate": rate,
        "rounding": "floor",
        "conditions": {"time_window": {"start": start, "end": end}},
        "combine": "best_of",
        "group": BASE_GROUP,
        "priority": 100,
    }


def big_basket_bonus(min_spend: str = "500", points: int = 100) -> Config:
    """A fixed bonus for a basket of ¥500 or more, once per member per day."""
    return {
        "kind": "fixed_bonus",
        "points": points,
        "conditions": {"min_spend": min_spend},
        "caps": {"per_member_day": points},
        "priority": 40,
    }


@dataclass(frozen=True)
class Preset:
    key: str
    label: str | Promise
    build: Callable[..., Config]
    # Parameters the editor asks for, with their defaults; a required one has "" as default.
    params: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def config(self, **params: Any) -> Config:
        unknown = set(params) - set(self.params)
        if unknown:
            raise TypeError(f"preset {self.key} takes no {', '.join(sorted(unknown))}")
        return self.build(**{**self.params, **params})


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset("retail_base", _("1 point per ¥1 (retail)"), retail_base, {"rate": "1"}),
        Preset("weekend_double", _("Double points on weekends"), weekend_double),
        Preset(
            "category_multiplier",
            _("3× points on a category"),
            category_multiplier,
            {"category": "", "factor": "3"},
            required=("category",),
        ),
        Preset(
            "happy_hour",
            _("Evening happy hour: 2× points"),
            happy_hour,
            {"start": "18:00", "end": "22:00", "factor": "2"},
        ),
        Preset(
            "store_opening",
            _("New store opening bonus: 200 points"),
            store_opening,
            {"store": "", "points": 200, "days": 14, "starts": ""},
            required=("store",),
        ),
        Preset(
            "restaurant_dinner",
            _("Restaurant: 10 points per ¥1 at dinner"),
            restaurant_dinner,
            {"rate": "10", "start": "17:00", "end": "22:00"},
        ),
        Preset(
            "big_basket_bonus",
            _("100 bonus points on a basket of ¥500 or more"),
            big_basket_bonus,
            {"min_spend": "500", "points": 100},
        ),
    )
}
