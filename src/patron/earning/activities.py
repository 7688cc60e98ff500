"""Activity points (活动积分) as validated, typed configuration.

Named activities (daily check-in, profile completed, survey answered, event attended, review written,
referral) each pay a number of points with limits per local day, per local month and per lifetime,
and may need a reference (the survey, the event, the referred member) that pays once per member.
A once-a-day activity counts a streak of consecutive local days and may pay streak bonuses
(e.g. +50 on the 7th day, and every 7th day after when `repeat`).

One row (`ActivityProgram`) holds the config; readers get it from a short in-process cache, like
`ledger.program`.
"""

from __future__ import annotations

from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from patron.core.cache import ProcessCache
from patron.core.i18n import in_reader_language

DAILY_CHECKIN = "daily_checkin"


class StreakBonus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    day: int = Field(ge=2, le=366)
    points: int = Field(ge=1, le=100_000)
    repeat: bool = False  # also every multiple of `day` (14, 21, …)

    def applies(self, streak: int) -> bool:
        return streak == self.day or (self.repeat and streak > 0 and streak % self.day == 0)


class Activity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, max_length=100)  # zh-Hans
    label_en: str = Field(default="", max_length=100)
    points: int = Field(ge=1, le=100_000)
    point_type: Literal["activity", "bonus"] = "activity"
    enabled: bool = True
    per_day: int | None = Field(default=None, ge=1, le=1000)
    per_month: int | None = Field(default=None, ge=1, le=10_000)
    lifetime: int | None = Field(default=None, ge=1, le=100_000)
    requires_reference: bool = False
    streak_bonuses: tuple[StreakBonus, ...] = ()

    @model_validator(mode="after")
    def _sensible(self) -> Activity:
        if self.streak_bonuses and self.per_day != 1:
            raise ValueError(_("Streak bonuses need an activity that pays once a day (per_day = 1)."))
        if self.per_day and self.per_month and self.per_day > self.per_month:
            raise ValueError(_("The daily limit is above the monthly limit, so it would never apply."))
        if self.per_month and self.lifetime and self.per_month > self.lifetime:
            raise ValueError(_("The monthly limit is above the lifetime limit, so it would never apply."))
        if len({b.day for b in self.streak_bonuses}) != len(self.streak_bonuses):
            raise ValueError(_("Two streak bonuses for the same day."))
        return self

    @property
    def display(self) -> str:
        """The label in the reader's language (English when asked for and given)."""
        return in_reader_language(self.label, self.label_en)

    @property
    def counts_streak(self) -> bool:
        return self.per_day == 1

    def streak_bonus(self, streak: int) -> int:
        return sum(b.points for b in self.streak_bonuses if b.applies(streak))


def _defaults() -> dict[str, Activity]:
    return {
        DAILY_CHECKIN: Activity(
            label="每日签到",
            label_en="Daily check-in",
            points=5,
            per_day=1,
            streak_bonuses=(StreakBonus(day=7, points=50, repeat=True),),
        ),
        "profile_completed": Activity(label="完善资料", label_en="Profile completed", points=50, lifetime=1),
        "survey_answered": Activity(
            label="参与问卷", label_en="Survey answered", points=20, requires_reference=True, per_month=10
        ),
        "event_attended": Activity(label="参加活动", label_en="Event attended", points=30, requires_reference=True),
        "review_written": Activity(
            label="发表评价", label_en="Review written", points=10, requires_reference=True, per_day=3
        ),
        "referral": Activity(
            label="推荐新会员", label_en="Member referred", points=100, requires_reference=True, per_month=20
        ),
    }


class ActivityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    activities: dict[str, Activity] = Field(default_factory=_defaults)

    @field_validator("activities")
    @classmethod
    def _keys(cls, value: dict[str, Activity]) -> dict[str, Activity]:
        for key in value:
            if not key or len(key) > 40 or not all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in key):
                raise ValueError(_("Activity keys are 1 to 40 letters, digits or underscores: %(k)s") % {"k": key})
        return value


def _load() -> ActivityConfig:
    from patron.earning.models import ActivityProgram

    row = ActivityProgram.objects.filter(pk=1).first()
    return ActivityConfig.model_validate(row.config) if row and row.config else ActivityConfig()


_cache = ProcessCache(10.0, _load)


def current() -> ActivityConfig:
    return _cache.get()


def forget() -> None:
    _cache.forget()
