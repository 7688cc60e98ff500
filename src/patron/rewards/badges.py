"""Badge rules (勋章) as validated, typed configuration.

A rule says which behaviour earns the badge; `rewards.services.award_badges` finds the members who
qualify with one grouped query per rule, for one member right after the fact (a sale, an activity,
a tier move) or for everyone when a badge is created. A badge is held at most once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FirstPurchase(_Rule):
    kind: Literal["first_purchase"] = "first_purchase"

    def describe(self) -> str:
        return _("Made a first purchase")


class Purchases(_Rule):
    """N sales (purchase days would be kinder to a member who splits a basket; sales are what the till sees)."""

    kind: Literal["purchases"] = "purchases"
    count: int = Field(ge=2, le=100_000)

    def describe(self) -> str:
        return _("Made %(n)s purchases") % {"n": self.count}


class Spend(_Rule):
    kind: Literal["spend"] = "spend"
    amount: Decimal = Field(gt=0, le=Decimal("1e10"), decimal_places=2)

    def describe(self) -> str:
        return _("Spent %(amount)s in all (net of refunds)") % {"amount": self.amount}


class CheckInStreak(_Rule):
    kind: Literal["checkin_streak"] = "checkin_streak"
    days: int = Field(ge=2, le=3660)

    def describe(self) -> str:
        return _("Checked in %(n)s days in a row") % {"n": self.days}


class ActivityCount(_Rule):
    """Events attended, referrals, reviews: any activity the earning program pays for."""

    kind: Literal["activity_count"] = "activity_count"
    activity: str = Field(min_length=1, max_length=40)
    count: int = Field(ge=1, le=100_000)

    def describe(self) -> str:
        return _("%(activity)s %(n)s times") % {"activity": self.activity, "n": self.count}


class TierReached(_Rule):
    kind: Literal["tier_reached"] = "tier_reached"
    tier: str = Field(min_length=1, max_length=32)

    def describe(self) -> str:
        return _("Reached the %(tier)s tier") % {"tier": self.tier}


BadgeRule = Annotated[
    FirstPurchase | Purchases | Spend | CheckInStreak | ActivityCount | TierReached, Field(discriminator="kind")
]
RULE_KINDS = ("first_purchase", "purchases", "spend", "checkin_streak", "activity_count", "tier_reached")
_adapter: TypeAdapter[BadgeRule] = TypeAdapter(BadgeRule)


def parse_rule(data: object) -> BadgeRule:
    return _adapter.validate_python(data)


def dump_rule(rule: BadgeRule) -> dict[str, object]:
    return rule.model_dump(mode="json")


# Which facts can earn which kinds of badge: the event handlers only look at these.
TRIGGERS: dict[str, tuple[str, ...]] = {
    "transaction": ("first_purchase", "purchases", "spend"),
    "activity": ("checkin_streak", "activity_count"),
    "tier": ("tier_reached",),
}
