"""A tier model (晋升模型) as validated, typed configuration.

A model is an ordered ladder of tiers, lowest first, and the policy that moves members along it:

- `window`: what a member's activity is counted over. `calendar_year` (the local calendar year so
  far), `rolling` (the last `months` months, day by day) or `since_joining`. A review counts the
  window as it stood on the day before the review, so a 1 January review of a calendar-year model
  looks at the year that just ended.
- Each tier's `qualify`: thresholds on `spend` (net of refunds, in the program currency),
  `purchase_days` (distinct local days with a purchase not fully refunded) and `points` (points
  earned on purchases, net of what refunds took back), combined `any` (one is enough) or `all`.
  The lowest tier has none: everyone starts there.
- `review`: when a member can move down. `anniversary` (a year after the tier started, and every year
  after), `every_n_months` (every `months` months after the tier started) or `fixed_date` (every
  year on `month`/`day`). `downgrade`: `one_level` at a time or straight `to_qualified`.
  `grace_days`: after a review that would move the member down, they keep the tier that long and
  move down only if they have not re-qualified by then. `at_risk_days`: how long before a review a
  member who would move down is warned (`TierAtRisk`).
- Upgrades happen at once, on the sale that qualifies. `refund_reverts_upgrade`: a refund that takes
  a member below the tier they were upgraded to (and not yet confirmed at a review) moves them back.
- A tier marked `lifetime` is never lost once reached by the rules.
- Benefits are typed data per tier, chosen per tier (see `Benefit`). Costs on benefits are estimates
  the simulator uses; they change nothing at run time.

`check_model_config` turns anything else into a `ValidationFailed` with one message per field.
"""

from __future__ import annotations

import calendar
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from patron.core.errors import check_config
from patron.tiers.errors import ErrorCode

MAX_TIERS = 12
MAX_MONEY = Decimal("1e12")


class WindowKind(StrEnum):
    CALENDAR_YEAR = "calendar_year"
    ROLLING = "rolling"
    SINCE_JOINING = "since_joining"


class ReviewKind(StrEnum):
    ANNIVERSARY = "anniversary"
    EVERY_N_MONTHS = "every_n_months"
    FIXED_DATE = "fixed_date"


class Downgrade(StrEnum):
    ONE_LEVEL = "one_level"
    TO_QUALIFIED = "to_qualified"


class Combine(StrEnum):
    ANY = "any"
    ALL = "all"


METRICS = ("spend", "purchase_days", "points")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    kind: WindowKind = WindowKind.CALENDAR_YEAR
    months: int | None = Field(default=None, ge=1, le=120)

    @model_validator(mode="after")
    def _months_for_rolling(self) -> Window:
        if self.kind == WindowKind.ROLLING and self.months is None:
            raise ValueError(_("A rolling window needs its number of months."))
        if self.kind != WindowKind.ROLLING and self.months is not None:
            raise ValueError(_("Only a rolling window has a number of months."))
        return self


class Review(_Strict):
    kind: ReviewKind = ReviewKind.ANNIVERSARY
    months: int | None = Field(default=None, ge=1, le=60)
    month: int | None = Field(default=None, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)

    @model_validator(mode="after")
    def _fits_kind(self) -> Review:
        if self.kind == ReviewKind.EVERY_N_MONTHS:
            if self.months is None:
                raise ValueError(_("A review every N months needs the number of months."))
        elif self.months is not None:
            raise ValueError(_("Only a review every N months has a number of months."))
        if self.kind == ReviewKind.FIXED_DATE:
            if self.month is None or self.day is None:
                raise ValueError(_("A review on a fixed date needs its month and day."))
            # Every year has the date: not 29 February, not 31 April.
            if self.day > calendar.monthrange(2025, self.month)[1]:
                raise ValueError(_("The review date must exist in every year."))
        elif self.month is not None or self.day is not None:
            raise ValueError(_("Only a review on a fixed date has a month and day."))
        return self

    @property
    def period_months(self) -> int:
        return self.months if self.kind == ReviewKind.EVERY_N_MONTHS and self.months else 12


class Qualification(_Strict):
    combine: Combine = Combine.ANY
    spend: Decimal | None = Field(default=None, gt=0, le=MAX_MONEY, decimal_places=2)
    purchase_days: int | None = Field(default=None, ge=1, le=10_000)
    points: int | None = Field(default=None, ge=1, le=10**12)

    def thresholds(self) -> dict[str, Decimal | int]:
        return {name: value for name in METRICS if (value := getattr(self, name)) is not None}

    @property
    def empty(self) -> bool:
        return not self.thresholds()


# --------------------------------------------------------------------------- benefits


class _Benefit(_Strict):
    note: str = Field(default="", max_length=200)
    note_en: str = Field(default="", max_length=200)


class EarnMultiplier(_Benefit):
    """The tier's earning multiplier: the earning rules multiply a sale's base points by it."""

    kind: Literal["earn_multiplier"] = "earn_multiplier"
    factor: Decimal = Field(gt=1, le=10, decimal_places=2)


class ExclusiveRewards(_Benefit):
    """Rewards of the points mall only this tier (or those listed with it) may redeem."""

    kind: Literal["exclusive_rewards"] = "exclusive_rewards"
    rewards: tuple[str, ...] = ()


class BirthdayGift(_Benefit):
    """Paid by the birthday journey: points, or a coupon from a batch (by its code)."""

    kind: Literal["birthday_gift"] = "birthday_gift"
    points: int | None = Field(default=None, ge=1, le=1_000_000)
    coupon_batch: str = Field(default="", max_length=64)
    estimated_cost: Decimal = Field(default=Decimal(0), ge=0, le=MAX_MONEY, decimal_places=2)

    @model_validator(mode="after")
    def _points_or_coupon(self) -> BirthdayGift:
        if (self.points is None) == (not self.coupon_batch):
            raise ValueError(_("A birthday gift is either points or a coupon batch."))
        return self


class FreeService(_Benefit):
    """A service the member may use `count` times per `per` (a car wash, a lounge pass)."""

    kind: Literal["free_service"] = "free_service"
    service: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=100)
    count: int = Field(ge=1, le=1000)
    per: Literal["month", "year"] = "year"
    unit_cost: Decimal = Field(default=Decimal(0), ge=0, le=MAX_MONEY, decimal_places=2)


class PriorityLine(_Benefit):
    """Calls and tickets go to this service line first (the call center routes on it)."""

    kind: Literal["priority_line"] = "priority_line"
    line: str = Field(min_length=1, max_length=64)


class EventAccess(_Benefit):
    """Events open to this tier (by event tag; empty: all members-only events)."""

    kind: Literal["event_access"] = "event_access"
    event_tags: tuple[str, ...] = ()


Benefit = Annotated[
    EarnMultiplier | ExclusiveRewards | BirthdayGift | FreeService | PriorityLine | EventAccess,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- tiers and the model


class TierSpec(_Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=50)
    name_en: str = Field(min_length=1, max_length=50)
    color: str = Field(default="#8c8c8c", pattern=r"^#[0-9a-fA-F]{6}$")
    badge: str = Field(default="", max_length=50)  # an icon name or a short label for the card
    qualify: Qualification = Field(default_factory=Qualification)
    lifetime: bool = False
    benefits: tuple[Benefit, ...] = ()

    @field_validator("benefits")
    @classmethod
    def _one_multiplier(cls, benefits: tuple[Any, ...]) -> tuple[Any, ...]:
        if sum(1 for b in benefits if b.kind == "earn_multiplier") > 1:
            raise ValueError(_("A tier has at most one earning multiplier."))
        return benefits

    @property
    def multiplier(self) -> Decimal:
        for benefit in self.benefits:
            if isinstance(benefit, EarnMultiplier):
                return benefit.factor
        return Decimal(1)

    def display(self, language: str) -> str:
        return self.name if language.startswith("zh") else self.name_en


class TierModelConfig(_Strict):
    tiers: tuple[TierSpec, ...] = Field(min_length=2, max_length=MAX_TIERS)
    window: Window = Field(default_factory=Window)
    review: Review = Field(default_factory=lambda: Review(kind=ReviewKind.FIXED_DATE, month=1, day=1))
    downgrade: Downgrade = Downgrade.ONE_LEVEL
    grace_days: int = Field(default=0, ge=0, le=365)
    at_risk_days: int = Field(default=30, ge=0, le=365)
    refund_reverts_upgrade: bool = True

    @field_validator("tiers")
    @classmethod
    def _ladder(cls, tiers: tuple[TierSpec, ...]) -> tuple[TierSpec, ...]:
        """The ladder on its own (reported on `tiers`, so a form can show it by the ladder)."""
        codes = [t.code for t in tiers]
        if len(set(codes)) != len(codes):
            raise ValueError(_("Each tier needs its own code."))
        if not tiers[0].qualify.empty:
            raise ValueError(_("The lowest tier starts at zero: it has no thresholds."))
        for tier in tiers[1:]:
            if tier.qualify.empty:
                raise ValueError(_("Tier %(t)s needs at least one threshold.") % {"t": tier.code})
        _check_increasing(tiers)
        return tiers

    @model_validator(mode="after")
    def _consistent(self) -> TierModelConfig:
        if self.window.kind == WindowKind.CALENDAR_YEAR and not (
            self.review.kind == ReviewKind.FIXED_DATE and (self.review.month, self.review.day) == (1, 1)
        ):
            raise ValueError(_("A calendar-year window is reviewed on 1 January, when the year it counts has ended."))
        if (
            self.window.kind == WindowKind.ROLLING
            and self.review.kind == ReviewKind.EVERY_N_MONTHS
            and self.review.period_months > (self.window.months or 12)
        ):
            raise ValueError(
                _("Reviews every %(r)s months over a %(w)s-month window would skip activity between reviews.")
                % {"r": self.review.period_months, "w": self.window.months}
            )
        return self

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.tiers]

    def level_of(self, code: str | None) -> int:
        """The ladder position of a tier code; an unknown code (an older model's) counts as the lowest."""
        for level, tier in enumerate(self.tiers):
            if tier.code == code:
                return level
        return 0

    def uses_points(self) -> bool:
        return any(t.qualify.points is not None for t in self.tiers)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _check_increasing(tiers: tuple[TierSpec, ...]) -> None:
    """A threshold used by two tiers rises up the ladder (for each metric, over the tiers using it)."""
    for metric in METRICS:
        previous: tuple[str, Decimal | int] | None = None
        for tier in tiers[1:]:
            value = tier.qualify.thresholds().get(metric)
            if value is None:
                continue
            if previous is not None and value <= previous[1]:
                raise ValueError(
                    _("The %(m)s threshold of %(t)s must be above that of %(p)s.")
                    % {"m": metric_label(metric), "t": tier.code, "p": previous[0]}
                )
            previous = (tier.code, value)


def metric_label(metric: str) -> str:
    return {"spend": _("spend"), "purchase_days": _("purchase days"), "points": _("qualifying points")}[metric]


def check_model_config(data: TierModelConfig | dict[str, Any]) -> TierModelConfig:
    return cast(
        TierModelConfig,
        check_config(
            TierModelConfig, data, message=_("The tier model is not valid: %(why)s"), code=ErrorCode.INVALID_MODEL
        ),
    )
