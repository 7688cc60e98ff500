"""Earning rules as validated, typed configuration.

A rule is one of three kinds:

- `base`: `rate` points per currency unit of the eligible amount, rounded by `rounding`
  (floor, round half up, ceil). Usually purchase points.
- `multiplier`: `factor` × the base points of the eligible lines. A 2× rule awards the extra 1× on
  top of the base rules that fired, so the member gets double. The base points it multiplies are the
  base rules' points for the lines both rules cover, before the base rules' caps; a multiplier has
  caps of its own.
- `fixed_bonus`: `points` when the conditions match.

Conditions are all optional and all must hold. `categories` and `skus` select lines: a line counts
when its category is among `categories` or its SKU among `skus`; without either, the whole basket
counts. `min_spend` is compared with the eligible amount. Days of week are ISO (1 = Monday …
7 = Sunday); dates, days and the time window are read in the members' time zone (Asia/Shanghai by
default); a window whose end is before its start crosses midnight (22:00–02:00).

Caps: per transaction, per member per local day, per member per local calendar month; `budget` is the
total the rule may ever award (counted from when the budget was set).

`combine`: `stack` rules add up; among the rules of one `best_of` `group` only the one that gives the
most points (after caps) applies, ties going to the rule evaluated first. Base rules are resolved
before promotions, so a group never mixes a base rule with a promotion. Rules are evaluated by
`priority`, highest first, then by id.

The config is stored as JSON on `EarningRule.config`; `check_rule_config` turns anything else into a
`ValidationFailed` with one message per field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, cast

from django.utils.translation import gettext as _
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from patron.core.errors import check_config
from patron.earning.errors import ErrorCode
from patron.members.models import Channel


class RuleKind(StrEnum):
    BASE = "base"
    MULTIPLIER = "multiplier"
    FIXED_BONUS = "fixed_bonus"


class Rounding(StrEnum):
    FLOOR = "floor"
    HALF_UP = "half_up"
    CEIL = "ceil"


class Combine(StrEnum):
    STACK = "stack"
    BEST_OF = "best_of"


AwardedType = Literal["purchase", "bonus", "activity"]

MAX_FACTOR = Decimal(20)
MAX_RATE = Decimal(1000)
MAX_FIXED_POINTS = 1_000_000
MAX_CAP = 10**9


def _clean_codes(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    cleaned: list[str] = []
    for value in values:
        text = str(value).strip()
        if not text:
            raise ValueError(_("%(what)s: an empty value is not allowed.") % {"what": what})
        if len(text) > 64:
            raise ValueError(_("%(what)s: %(v)s is longer than 64 characters.") % {"what": what, "v": text[:20]})
        if text not in cleaned:
            cleaned.append(text)
    return tuple(cleaned)


class DateRange(BaseModel):
    """Local calendar dates, both inclusive; either end may be open."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.start and self.end and self.end < self.start:
            raise ValueError(_("The date range ends before it starts."))
        return self

    def contains(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


class TimeWindow(BaseModel):
    """Local time of day, from `start` (inclusive) to `end` (exclusive); crosses midnight when end < start."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.time
    end: dt.time

    @field_validator("start", "end")
    @classmethod
    def _naive_minutes(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError(_("A time of day has no time zone; it is read in the members' time zone."))
        return value.replace(second=0, microsecond=0)

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError(_("The time window starts and ends at the same time."))
        return self

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def contains(self, at: dt.time) -> bool:
        if self.crosses_midnight:
            return at >= self.start or at < self.end
        return self.start <= at < self.end


class Conditions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stores: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    days_of_week: tuple[int, ...] = ()
    date_range: DateRange | None = None
    time_window: TimeWindow | None = None
    member_tags: tuple[str, ...] = ()  # any of
    member_attributes: dict[str, str | int | bool] = Field(default_factory=dict)  # all equal
    tiers: tuple[str, ...] = ()
    min_spend: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), decimal_places=2)

    @field_validator("stores", "categories", "skus", "member_tags", "tiers")
    @classmethod
    def _codes(cls, values: tuple[str, ...], info: Any) -> tuple[str, ...]:
        return _clean_codes(values, info.field_name)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        values = _clean_codes(values, "channels")
        unknown = [v for v in values if v not in Channel.values]
        if unknown:
            raise ValueError(
                _("Unknown channel %(c)s; one of %(all)s.")
                % {"c": ", ".join(unknown), "all": ", ".join(Channel.values)}
            )
        return values

    @field_validator("days_of_week")
    @classmethod
    def _iso_days(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= d <= 7 for d in values):
            raise ValueError(_("Days of the week are 1 (Monday) to 7 (Sunday)."))
        return tuple(sorted(set(values)))

    @field_validator("member_attributes")
    @classmethod
    def _attribute_keys(cls, values: dict[str, Any]) -> dict[str, Any]:
        if any(not key.strip() for key in values):
            raise ValueError(_("An attribute condition needs the attribute's key."))
        return values

    @property
    def selects_lines(self) -> bool:
        return bool(self.categories or self.skus)


class Caps(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_transaction: int | None = Field(default=None, ge=1, le=MAX_CAP)
    per_member_day: int | None = Field(default=None, ge=1, le=MAX_CAP)
    per_member_month: int | None = Field(default=None, ge=1, le=MAX_CAP)

    @model_validator(mode="after")
    def _sensible(self) -> Caps:
        if self.per_member_day and self.per_member_month and self.per_member_day > self.per_member_month:
            raise ValueError(_("The daily cap is above the monthly cap, so it would never apply."))
        return self

    @property
    def per_member(self) -> bool:
        return bool(self.per_member_day or self.per_member_month)


class RuleConfig(BaseModel):
    """One earning rule. See the module docstring for what each field means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RuleKind
    point_type: AwardedType = "purchase"  # filled in by kind when not given: purchase for base, else bonus
    rate: Decimal | None = Field(default=None, decimal_places=4)
    factor: Decimal | None = Field(default=None, decimal_places=2)
    points: int | None = None
    rounding: Rounding = Rounding.FLOOR
    conditions: Conditions = Field(default_factory=Conditions)
    caps: Caps = Field(default_factory=Caps)
    budget: int | None = Field(default=None, ge=1, le=10**12)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    enabled: bool = True
    combine: Combine = Combine.STACK
    group: str = Field(default="", max_length=50)
    priority: int = Field(default=100, ge=0, le=10000)

    @model_validator(mode="before")
    @classmethod
    def _default_point_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and "point_type" not in data:
            data = {**data, "point_type": "purchase" if data.get("kind") == RuleKind.BASE else "bonus"}
        return data

    @model_validator(mode="after")
    def _fits_kind(self) -> RuleConfig:
        if self.kind == RuleKind.BASE:
            if self.rate is None or not Decimal(0) < self.rate <= MAX_RATE:
                raise ValueError(
                    _("A base rule needs a rate above 0 and at most %(max)s points per unit.") % {"max": MAX_RATE}
                )
        elif self.rate is not None:
            raise ValueError(_("Only a base rule has a rate."))
        if self.kind == RuleKind.MULTIPLIER:
            if self.factor is None or not Decimal(1) < self.factor <= MAX_FACTOR:
                raise ValueError(_("A multiplier's factor is above 1 and at most %(max)s.") % {"max": MAX_FACTOR})
        elif self.factor is not None:
            raise ValueError(_("Only a multiplier rule has a factor."))
        if self.kind == RuleKind.FIXED_BONUS:
            if self.points is None or isinstance(self.points, bool) or not 0 < self.points <= MAX_FIXED_POINTS:
                raise ValueError(
                    _("A fixed bonus needs between 1 and %(max)s points.") % {"max": f"{MAX_FIXED_POINTS:,}"}
                )
        elif self.points is not None:
            raise ValueError(_("Only a fixed bonus rule has a number of points."))
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError(_("The rule ends before it starts."))
        if self.combine == Combine.BEST_OF and not self.group:
            raise ValueError(_("A best-of rule needs a group name: the rules of one group compete."))
        if self.combine == Combine.STACK and self.group:
            raise ValueError(_("Only best-of rules belong to a group."))
        return self

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_utc_range(cls, value: dt.datetime | None) -> dt.datetime | None:
        """Stored and compared in UTC, so the time must have a UTC form in a sensible range."""
        if value is None:
            return None
        try:
            utc = value.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValueError(_("The time is out of range.")) from exc
        if not 1970 <= utc.year <= 9998:
            raise ValueError(_("The time is out of range."))
        return utc

    @field_validator("group")
    @classmethod
    def _strip_group(cls, value: str) -> str:
        return value.strip()

    def live_at(self, at: dt.datetime) -> bool:
        """Enabled and within its schedule."""
        return (
            self.enabled
            and (self.starts_at is None or self.starts_at <= at)
            and (self.ends_at is None or at < self.ends_at)
        )

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)


@dataclass(frozen=True)
class Rule:
    """A rule as the engine sees it: its id and name with its validated config."""

    id: int
    name: str
    config: RuleConfig


def check_rule_config(data: RuleConfig | dict[str, Any]) -> RuleConfig:
    """Validate a rule config; refuse with `invalid_rule` and a message per field."""
    return cast(
        RuleConfig,
        check_config(
            RuleConfig, data, message=_("The earning rule is not valid: %(why)s"), code=ErrorCode.INVALID_RULE
        ),
    )
