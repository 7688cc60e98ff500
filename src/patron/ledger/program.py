"""The program's points policy as validated, typed configuration.

One row holds it (`ProgramSettings`); readers get a `ProgramConfig` from a short in-process cache,
since the earn path reads it on every request. A change takes effect at once in the process that
made it and within `_CACHE_SECONDS` everywhere else.
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from patron.core import clock
from patron.core.cache import ProcessCache


class ExpiryMode(StrEnum):
    MONTHS = "months"  # rolling: N months after the earn
    YEAR_END = "year_end"  # 31 December of the earn year + N
    NEVER = "never"


class ClawbackPolicy(StrEnum):
    # A refund takes back more than is left: the member owes the rest (balance goes negative down to
    # that order's earn) and cannot redeem until new points repay it.
    NEGATIVE = "negative"
    # ...or the balance stops at zero and the program writes the rest off to the clawback account.
    FLOOR = "floor"


class Purpose(StrEnum):
    PAYMENT = "payment"  # points as payment at the till
    REWARD = "reward"  # the points mall
    SERVICE = "service"  # services and privileges


POINT_TYPES = ("purchase", "activity", "bonus", "adjustment")
PointTypeName = Literal["purchase", "activity", "bonus", "adjustment"]


class ExpiryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: ExpiryMode = ExpiryMode.MONTHS
    n: int = Field(default=24, ge=0, le=120)

    def expires_at(self, earned_at: dt.datetime) -> dt.datetime | None:
        """End of the expiry day in the program's zone, as UTC."""
        local = earned_at.astimezone(clock.member_zone())
        if self.mode == ExpiryMode.NEVER:
            return None
        if self.mode == ExpiryMode.YEAR_END:
            last_day = dt.date(local.year + self.n, 12, 31)
        else:
            month_index = local.month - 1 + self.n
            year, month = local.year + month_index // 12, month_index % 12 + 1
            last_day = dt.date(year, month, min(local.day, calendar.monthrange(year, month)[1]))
        end = dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=clock.member_zone())
        return end.astimezone(dt.UTC)


def _default_expiry() -> dict[PointTypeName, ExpiryRule]:
    return {
        "purchase": ExpiryRule(mode=ExpiryMode.YEAR_END, n=1),
        "activity": ExpiryRule(mode=ExpiryMode.MONTHS, n=12),
        "bonus": ExpiryRule(mode=ExpiryMode.MONTHS, n=6),
        "adjustment": ExpiryRule(mode=ExpiryMode.MONTHS, n=12),
    }


def _default_spending() -> dict[Purpose, list[PointTypeName]]:
    return {
        Purpose.PAYMENT: ["purchase", "adjustment"],
        Purpose.REWARD: ["purchase", "activity", "bonus", "adjustment"],
        Purpose.SERVICE: ["purchase", "activity", "bonus", "adjustment"],
    }


class ProgramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    return_window_days: int = Field(default=7, ge=0, le=365)
    clawback_policy: ClawbackPolicy = ClawbackPolicy.NEGATIVE
    adjustment_approval_over: int = Field(default=1000, ge=0)
    hold_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    # A refund returns spent points with their original expiry, but never less than this many days.
    restore_grace_days: int = Field(default=7, ge=0, le=365)
    # How many points make one currency unit when points pay at the till (100 points = ¥1).
    points_per_currency_unit: int = Field(default=100, ge=1, le=100000)
    expiry: dict[PointTypeName, ExpiryRule] = Field(default_factory=_default_expiry)
    spending: dict[Purpose, list[PointTypeName]] = Field(default_factory=_default_spending)

    @model_validator(mode="after")
    def _complete(self) -> ProgramConfig:
        missing = [t for t in POINT_TYPES if t not in self.expiry]
        if missing:
            raise ValueError(f"expiry: no rule for {', '.join(missing)}")
        for purpose in Purpose:
            if not self.spending.get(purpose):
                raise ValueError(f"spending: no point type may be spent on {purpose.value}")
        return self

    def expiry_for(self, point_type: str, earned_at: dt.datetime) -> dt.datetime | None:
        return self.expiry[point_type].expires_at(earned_at)  # type: ignore[index]

    def spendable_types(self, purpose: str) -> list[str]:
        return list(self.spending[Purpose(purpose)])


def _load() -> ProgramConfig:
    from patron.ledger.models import ProgramSettings

    row = ProgramSettings.objects.filter(pk=1).first()
    return ProgramConfig.model_validate(row.config) if row else ProgramConfig()


_cache = ProcessCache(10.0, _load)


def current() -> ProgramConfig:
    return _cache.get()


def forget() -> None:
    _cache.forget()
