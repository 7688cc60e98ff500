"""Forms of the ledger's console pages. They parse input; `ledger.services` decides what is allowed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from patron.core import clock
from patron.core.errors import DomainError
from patron.core.forms import readable
from patron.ledger.models import PointType
from patron.ledger.program import POINT_TYPES, ClawbackPolicy, ExpiryMode, ProgramConfig, Purpose

# Longest period one statement covers: a year (and a leap day), so a download stays small.
STATEMENT_MAX_DAYS = 366

CLAWBACK_LABELS = {
    ClawbackPolicy.NEGATIVE: _("The member owes the rest (balance below zero until repaid)"),
    ClawbackPolicy.FLOOR: _("Stop at zero and write the rest off"),
}
EXPIRY_LABELS = {
    ExpiryMode.MONTHS: _("N months after the earn"),
    ExpiryMode.YEAR_END: _("31 December, N years after the earn year"),
    ExpiryMode.NEVER: _("Never"),
}
PURPOSE_LABELS: dict[str, Any] = {  # keyed by `Purpose`, a str
    Purpose.PAYMENT: _("Payment at the till"),
    Purpose.REWARD: _("Rewards"),
    Purpose.SERVICE: _("Services and privileges"),
}


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"), help_text=_("Positive adds points, negative removes them."), widget=forms.NumberInput()
    )
    point_type = forms.ChoiceField(label=_("Point type"), choices=PointType.choices, initial=PointType.ADJUSTMENT)
    reason = forms.CharField(label=_("Reason"), max_length=200)


class StatementForm(forms.Form):
    """The period of a 积分对账单 download, in the member time zone's dates."""

    start = forms.DateField(label=_("From"), widget=_date_input())
    end = forms.DateField(label=_("To"), widget=_date_input())
    format = forms.ChoiceField(label=_("Format"), choices=[("pdf", "PDF"), ("xlsx", "Excel")], initial="pdf")

    @staticmethod
    def default_period() -> dict[str, dt.date]:
        today = clock.local_today()
        return {"start": today.replace(day=1), "end": today}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end comes before the start."))
            elif (end - start).days >= STATEMENT_MAX_DAYS:
                self.add_error("end", _("A statement covers at most a year."))
        return data


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


def _expiry_mode(point_type: str) -> str:
    return f"expiry_{point_type}_mode"


def _expiry_n(point_type: str) -> str:
    return f"expiry_{point_type}_n"


def _spending(purpose: str) -> str:
    return f"spending_{purpose}"


class ProgramForm(forms.Form):
    """Every setting of `ProgramConfig` as a flat form. Ranges are the service's to check."""

    return_window_days = forms.IntegerField(
        label=_("Return window (days)"),
        help_text=_("Purchase points stay pending this long, so a refund in that time takes nothing spent."),
    )
    clawback_policy = forms.ChoiceField(
        label=_("When a refund takes back more than is left"), choices=list(CLAWBACK_LABELS.items())
    )
    adjustment_approval_over = forms.IntegerField(
        label=_("Adjustments above this many points need a second person"),
    )
    hold_minutes = forms.IntegerField(
        label=_("Hold time (minutes)"), help_text=_("Points set aside for an order are released after this.")
    )
    restore_grace_days = forms.IntegerField(
        label=_("Grace for returned points (days)"),
        help_text=_("Points given back after a refund keep their expiry, but never expire sooner than this."),
    )
    points_per_currency_unit = forms.IntegerField(label=_("Points per currency unit at the till"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        types = dict(PointType.choices)
        for point_type in POINT_TYPES:
            self.fields[_expiry_mode(point_type)] = forms.ChoiceField(
                label=_("%(type)s expire") % {"type": types[point_type]}, choices=list(EXPIRY_LABELS.items())
            )
            self.fields[_expiry_n(point_type)] = forms.IntegerField(label=_("N"))
        for purpose in Purpose:
            self.fields[_spending(purpose)] = forms.MultipleChoiceField(
                label=_("May pay for %(purpose)s") % {"purpose": PURPOSE_LABELS[purpose]},
                choices=[(t, types[t]) for t in POINT_TYPES],
                widget=forms.CheckboxSelectMultiple,
                required=False,
            )

    @classmethod
    def initial_from(cls, config: ProgramConfig) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(config, name)
            for name in (
                "return_window_days",
                "adjustment_approval_over",
                "hold_minutes",
                "restore_grace_days",
                "points_per_currency_unit",
            )
        }
        initial["clawback_policy"] = config.clawback_policy.value
        for point_type, rule in config.expiry.items():
            initial[_expiry_mode(point_type)] = rule.mode.value
            initial[_expiry_n(point_type)] = rule.n
        for purpose, types in config.spending.items():
            initial[_spending(purpose)] = list(types)
        return initial

    def general_fields(self) -> list[forms.BoundField]:
        names = [n for n in self.fields if not n.startswith(("expiry_", "spending_"))]
        return [self[n] for n in names]

    def expiry_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[_expiry_mode(t)], self[_expiry_n(t)]) for t in POINT_TYPES]

    def spending_fields(self) -> list[forms.BoundField]:
        return [self[_spending(p)] for p in Purpose]

    def changes(self) -> dict[str, Any]:
        """The form as `ProgramConfig` data for `services.do_update_program`."""
        data = self.cleaned_data
        changes = {
            name: data[name]
            for name in (
                "return_window_days",
                "clawback_policy",
                "adjustment_approval_over",
                "hold_minutes",
                "restore_grace_days",
                "points_per_currency_unit",
            )
        }
        changes["expiry"] = {t: {"mode": data[_expiry_mode(t)], "n": data[_expiry_n(t)]} for t in POINT_TYPES}
        changes["spending"] = {p.value: list(data[_spending(p)]) for p in Purpose}
        return changes

    def show_program_errors(self, exc: DomainError) -> None:
        """The service names fields by their place in the configuration ("expiry.bonus.n"); put each
        on the form field it came from, in words people read."""
        placed = False
        for path, why in exc.fields.items():
            field = self._field_for(path, why)
            if field:
                self.add_error(field, _readable(why))
                placed = True
        if not placed:
            self.add_error(None, exc.message)

    def _field_for(self, path: str, why: str) -> str | None:
        parts = path.split(".")
        while parts:
            name = "_".join(parts)
            if name in self.fields:
                return name
            parts.pop()
        # A whole-configuration check ("spending: no point type may be spent on payment").
        match = re.search(r"spending: no point type may be spent on (\w+)", why)
        if match and _spending(match.group(1)) in self.fields:
            return _spending(match.group(1))
        return None


def _readable(why: str) -> str:
    if "spending: no point type" in why:
        return gettext("Choose at least one point type.")
    return readable(why)


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "Excel")], required=False)
