"""The analytics settings form: one field per setting of `config.Settings`, grouped as the page shows
them; the service validates the whole (windows in order, ascending bands)."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from patron.analytics import config

GROUPS: list[tuple[Any, list[tuple[str, Any]]]] = [
    (
        _("Windows"),
        [
            ("short_days", _("Short window (days)")),
            ("medium_days", _("Medium window (days)")),
            ("long_days", _("Long window (days)")),
        ],
    ),
    (
        _("RFM"),
        [
            ("rfm_days", _("RFM window (days)")),
            ("rfm_method", _("Scores")),
            ("recency_bands", _("Recency cut points (days; fewer days score higher)")),
            ("frequency_bands", _("Frequency cut points (purchase days)")),
            ("monetary_bands", _("Monetary cut points (¥)")),
        ],
    ),
    (
        _("A/B/C/D classes"),
        [
            ("class_frequency_high", _("A: at least this many purchase days")),
            ("class_spend_high", _("A: and at least this spend (¥)")),
            ("class_frequency_low", _("B: at least this many purchase days")),
            ("class_spend_low", _("B: and at least this spend (¥); C: this spend alone")),
        ],
    ),
    (
        _("Lifecycle"),
        [
            ("new_days", _("New: first purchase within (days)")),
            ("active_days", _("Active: last purchase within (days)")),
            ("mature_tenure_days", _("Mature: buying for at least (days)")),
            ("mature_purchases", _("Mature: and purchase days in the long window")),
            ("at_risk_days", _("At risk: silent up to (days)")),
            ("lapsed_recent_days", _("Lapsed (recent): up to (days)")),
            ("lapsed_mid_days", _("Lapsed (mid-term): up to (days); dormant beyond")),
        ],
    ),
    (
        _("Churn early warning"),
        [
            ("overdue_min_purchases", _("Overdue: at least this many purchase days")),
            ("overdue_spread_factor", _("Overdue: usual interval + this many × its spread")),
            ("overdue_min_margin_days", _("Overdue: but at least this many days of margin")),
            ("cold_recent_days", _("Gone cold: recent period (days)")),
            ("cold_base_days", _("Gone cold: earlier period (days)")),
            ("cold_ratio", _("Gone cold: recent rate under this share of the earlier rate")),
            ("cold_min_base_purchases", _("Gone cold: at least this many earlier purchase days")),
        ],
    ),
    (
        _("Customer lifetime value"),
        [
            ("forecast_days", _("Expected purchases over (days)")),
            ("clv_months", _("CLV horizon (months)")),
            ("monthly_discount", _("Monthly discount rate")),
        ],
    ),
]

METHOD_LABELS: dict[Any, Any] = {
    config.ScoreMethod.QUINTILE: _("By quintile"),
    config.ScoreMethod.BANDS: _("By the fixed cut points"),
}


def _field(name: str, label: Any) -> forms.Field:
    annotation = config.Settings.model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return forms.ChoiceField(label=label, choices=[(m.value, METHOD_LABELS.get(m, m.value)) for m in annotation])
    if annotation is int:
        return forms.IntegerField(label=label)
    if annotation is float:
        return forms.FloatField(label=label)
    if annotation is Decimal:
        return forms.DecimalField(label=label, decimal_places=2, max_digits=14)
    return forms.CharField(label=label, help_text=_("four numbers, ascending, separated by commas"))


class SettingsForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for _group, fields in GROUPS:
            for name, label in fields:
                self.fields[name] = _field(name, label)

    @staticmethod
    def initial_from(settings: config.Settings) -> dict[str, Any]:
        data = settings.model_dump(mode="json")
        return {k: ", ".join(str(x) for x in v) if isinstance(v, list) else v for k, v in data.items()}

    def changes(self) -> dict[str, Any]:
        """The cleaned values as the settings take them (lists split); the service validates them."""
        out: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if isinstance(self.fields[name], forms.CharField) and not isinstance(self.fields[name], forms.ChoiceField):
                out[name] = [v.strip() for v in str(value).replace("，", ",").split(",") if v.strip()]
            else:
                out[name] = value
        return out

    def grouped(self) -> list[tuple[Any, list[Any]]]:
        return [(title, [self[name] for name, _label in fields]) for title, fields in GROUPS]
