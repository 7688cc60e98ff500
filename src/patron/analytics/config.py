"""The analytics settings as validated, typed configuration (one `AnalyticsSettings` row), and the
`batch.Params` a run derives from them."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from enum import StrEnum

from django.utils.translation import gettext
from pydantic import BaseModel, ConfigDict, Field, model_validator

from patron.analytics.batch import Bands, Params
from patron.core import clock
from patron.core.cache import ProcessCache

EPOCH = dt.date(1970, 1, 1)


class ScoreMethod(StrEnum):
    QUINTILE = "quintile"  # 1-5 by rank among the members who bought in the window
    BANDS = "bands"  # 1-5 by fixed cut points


def _ascending(values: list, name: str) -> None:
    if len(values) != 4 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(gettext("%(name)s: give four cut points in ascending order.") % {"name": name})


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    short_days: int = Field(default=30, ge=1, le=3650)
    medium_days: int = Field(default=90, ge=1, le=3650)
    long_days: int = Field(default=365, ge=1, le=3650)

    rfm_days: int = Field(default=365, ge=7, le=3650)
    rfm_method: ScoreMethod = ScoreMethod.QUINTILE
    recency_bands: list[int] = Field(default=[30, 60, 120, 240])  # days: fewer scores higher
    frequency_bands: list[int] = Field(default=[1, 2, 4, 8])  # purchase days
    monetary_bands: list[Decimal] = Field(default=[Decimal(200), Decimal(500), Decimal(1500), Decimal(4000)])

    class_frequency_high: int = Field(default=6, ge=1)
    class_frequency_low: int = Field(default=3, ge=1)
    class_spend_high: Decimal = Field(default=Decimal(3000), ge=0)
    class_spend_low: Decimal = Field(default=Decimal(800), ge=0)

    new_days: int = Field(default=90, ge=1)
    active_days: int = Field(default=90, ge=1)
    mature_tenure_days: int = Field(default=365, ge=1)
    mature_purchases: int = Field(default=6, ge=1)
    at_risk_days: int = Field(default=180, ge=1)
    lapsed_recent_days: int = Field(default=365, ge=1)
    lapsed_mid_days: int = Field(default=730, ge=1)

    overdue_min_purchases: int = Field(default=3, ge=2)
    overdue_spread_factor: float = Field(default=2.0, ge=0, le=10)
    overdue_min_margin_days: int = Field(default=7, ge=0)
    cold_recent_days: int = Field(default=90, ge=7)
    cold_base_days: int = Field(default=365, ge=7)
    cold_ratio: float = Field(default=0.3, gt=0, lt=1)
    cold_min_base_purchases: int = Field(default=4, ge=1)

    forecast_days: int = Field(default=90, ge=1, le=3650)  # expected purchases over this many days
    clv_months: int = Field(default=12, ge=1, le=120)
    monthly_discount: float = Field(default=0.01, ge=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not self.short_days < self.medium_days < self.long_days:
            raise ValueError(gettext("The windows must grow: short < medium < long."))
        _ascending(self.recency_bands, gettext("Recency cut points"))
        _ascending(self.frequency_bands, gettext("Frequency cut points"))
        _ascending(self.monetary_bands, gettext("Monetary cut points"))
        if self.class_frequency_low > self.class_frequency_high or self.class_spend_low > self.class_spend_high:
            raise ValueError(gettext("Class cut points: B's must not be above A's."))
        if not self.active_days < self.at_risk_days < self.lapsed_recent_days < self.lapsed_mid_days:
            raise ValueError(
                gettext("Lifecycle days must grow: active < at risk < lapsed (recent) < lapsed (mid-term).")
            )
        return self

    def params(self, as_of: dt.date) -> Params:
        bands = Bands()
        if self.rfm_method == ScoreMethod.BANDS:
            bands = Bands(
                recency=tuple(self.recency_bands),
                frequency=tuple(self.frequency_bands),
                monetary=tuple(cents(v) for v in self.monetary_bands),
            )
        return Params(
            as_of_day=day_number(as_of),
            utc_offset=utc_offset(as_of),
            windows=(self.short_days, self.medium_days, self.long_days),
            rfm_days=self.rfm_days,
            bands=bands,
            class_frequency_high=self.class_frequency_high,
            class_frequency_low=self.class_frequency_low,
            class_spend_high=cents(self.class_spend_high),
            class_spend_low=cents(self.class_spend_low),
            new_days=self.new_days,
            active_days=self.active_days,
            mature_tenure_days=self.mature_tenure_days,
            mature_purchases=self.mature_purchases,
            at_risk_days=self.at_risk_days,
            lapsed_recent_days=self.lapsed_recent_days,
            lapsed_mid_days=self.lapsed_mid_days,
            overdue_min_purchases=self.overdue_min_purchases,
            overdue_spread_factor=self.overdue_spread_factor,
            overdue_min_margin_days=self.overdue_min_margin_days,
            cold_recent_days=self.cold_recent_days,
            cold_base_days=self.cold_base_days,
            cold_ratio=self.cold_ratio,
            cold_min_base_purchases=self.cold_min_base_purchases,
        )


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def utc_offset(day: dt.date) -> int:
    """The program zone's UTC offset on that day, in seconds (a purchase's local day uses it)."""
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=clock.member_zone())
    offset = noon.utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _load() -> Settings:
    from patron.analytics.models import AnalyticsSettings

    row = AnalyticsSettings.objects.filter(pk=1).first()
    return Settings.model_validate(row.config) if row else Settings()


_cache = ProcessCache(10.0, _load)


def current() -> Settings:
    return _cache.get()


def forget() -> None:
    _cache.forget()
