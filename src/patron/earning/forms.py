"""Forms of the earning rules' console pages.

They parse input into the shape of `earning.rules.RuleConfig` (or a preset's parameters, or a
sample basket); ranges and the rules between fields are `check_rule_config`'s to decide, through
the services, and its refusals come back onto the field they name (`place_service_error`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, get_args

from django import forms
from django.conf import settings
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from patron.core import clock
from patron.core.errors import DomainError
from patron.core.forms import CodeListField, LocalDateTimeField, readable
from patron.earning import engine
from patron.earning.presets import Preset
from patron.earning.rules import AwardedType, Combine, Rounding, RuleConfig, RuleKind
from patron.ledger.models import PointType
from patron.members.models import Channel

KIND_LABELS = {
    RuleKind.BASE: _("Base: points per ¥1 spent"),
    RuleKind.MULTIPLIER: _("Multiplier: a multiple of the base points"),
    RuleKind.FIXED_BONUS: _("Fixed bonus: a number of points"),
}
ROUNDING_LABELS = {
    Rounding.FLOOR: _("Round down"),
    Rounding.HALF_UP: _("Round half up"),
    Rounding.CEIL: _("Round up"),
}
COMBINE_LABELS = {
    Combine.STACK: _("Add to the other rules"),
    Combine.BEST_OF: _("Best of its group: only the group's best rule applies"),
}
# The point types a rule may award, in the ledger's words.
POINT_TYPE_LABELS = {value: dict(PointType.choices)[value] for value in get_args(AwardedType)}
DAYS = [(str(day), WEEKDAYS[day - 1]) for day in range(1, 8)]  # ISO: 1 is Monday
PREVIEW_LINES = 5


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _checkboxes() -> forms.CheckboxSelectMultiple:
    return forms.CheckboxSelectMultiple(attrs={"class": "choices"})  # the class lays the boxes out in a row


class AttributesField(forms.CharField):
    """Member attribute conditions, one `key=value` a line; `true` and `false` are yes/no values."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dict[str, Any]:  # type: ignore[override]
        attributes: dict[str, Any] = {}
        for line in (super().to_python(value) or "").splitlines():
            if not line.strip():
                continue
            key, equals, text = line.partition("=")
            if not equals:
                raise forms.ValidationError(_("Write each condition as key=value: %(line)s"), params={"line": line})
            flag = text.strip().lower()
            attributes[key.strip()] = flag == "true" if flag in ("true", "false") else text.strip()
        return attributes

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in value.items())
        return value


# --------------------------------------------------------------------------- the service's refusals


def place_service_error(form: forms.Form, exc: DomainError, field_for: Callable[[str], str | None]) -> None:
    """Put a service's refusal on the form. A config check (pydantic underneath) names each field
    with its own message; the service's other refusals are one sentence for the fields they name.
    What names no field of the form goes above it."""
    if isinstance(exc.__cause__, ValidationError) and exc.fields:
        for path, why in exc.fields.items():
            form.add_error(field_for(path), readable(why))
        return
    named = sorted({name for path in exc.fields if (name := field_for(path))})
    for name in named:
        form.add_error(name, exc.message)
    if not named:
        form.add_error(None, exc.message)


def _field_in(form: forms.Form, path: str, aliases: dict[str, str], rename: Callable[[str], str]) -> str | None:
    """The form field a config path ("conditions.time_window.end") belongs to: the longest prefix of
    the path that names one, through `aliases` first, then `rename`."""
    parts = path.split(".")
    while parts:
        key = ".".join(parts)
        name = aliases.get(key) or rename(key)
        if name in form.fields:
            return name
        parts.pop()
    return None


# --------------------------------------------------------------------------- the rule editor

# Config paths whose form field is not named after them.
RULE_PATHS = {
    "conditions.date_range.start": "date_from",
    "conditions.date_range.end": "date_to",
    "conditions.date_range": "date_to",
    "conditions.time_window.start": "time_from",
    "conditions.time_window.end": "time_to",
    "conditions.time_window": "time_to",
    "caps": "cap_per_member_day",  # the day cap above the month cap
}
LIST_CONDITIONS = ("stores", "channels", "categories", "skus", "days_of_week", "member_tags", "tiers")
CAPS = ("per_transaction", "per_member_day", "per_member_month")
# The field that says how much a rule gives, by kind; the other two are left out of the config.
VALUE_FIELD = {RuleKind.BASE: "rate", RuleKind.MULTIPLIER: "factor", RuleKind.FIXED_BONUS: "points"}


def _config_field(path: str) -> str:
    head, _dot, rest = path.partition(".")
    if head == "caps" and rest:
        return f"cap_{rest}"
    if head == "conditions" and rest:
        return rest
    return path


class RuleForm(forms.Form):
    """Every setting of `RuleConfig` as a flat form, in sections (`sections`)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=list(KIND_LABELS.items()), initial=RuleKind.BASE)
    point_type = forms.ChoiceField(
        label=_("Point type"),
        choices=list(POINT_TYPE_LABELS.items()),
        initial="purchase",
        help_text=_("Base rules usually give purchase points, promotions bonus points."),
    )
    rate = forms.DecimalField(label=_("Points per ¥1"), required=False, help_text=_("Base rules only."))
    factor = forms.DecimalField(
        label=_("Factor"), required=False, help_text=_("Multipliers only: 2 gives double the base points.")
    )
    points = forms.IntegerField(label=_("Points"), required=False, help_text=_("Fixed bonuses only."))
    rounding = forms.ChoiceField(label=_("Rounding"), choices=list(ROUNDING_LABELS.items()), initial=Rounding.FLOOR)

    stores = CodeListField(label=_("Stores"), help_text=_("Store codes, separated by commas. Empty: every store."))
    channels = forms.MultipleChoiceField(
        label=_("Channels"), choices=Channel.choices, required=False, widget=_checkboxes()
    )
    categories = CodeListField(
        label=_("Product categories"), help_text=_("Only these lines count. Empty: the whole basket.")
    )
    skus = CodeListField(label=_("SKUs"), help_text=_("Lines of these SKUs count too."))
    days_of_week = forms.TypedMultipleChoiceField(
        label=_("Days of the week"), choices=DAYS, coerce=int, required=False, widget=_checkboxes()
    )
    date_from = forms.DateField(label=_("From date"), required=False, widget=_date_input())
    date_to = forms.DateField(label=_("To date (inclusive)"), required=False, widget=_date_input())
    time_from = forms.TimeField(label=_("From time of day"), required=False, widget=_time_input())
    time_to = forms.TimeField(
        label=_("To time of day"), required=False, widget=_time_input(), help_text=_("Before the start: past midnight.")
    )
    member_tags = CodeListField(label=_("Member tags"), help_text=_("Members with any of these tags."))
    tiers = CodeListField(label=_("Tiers"), help_text=_("Tier codes."))
    member_attributes = AttributesField(
        label=_("Member attributes"), help_text=_("One key=value a line; all must match.")
    )
    min_spend = forms.DecimalField(label=_("Minimum spend"), required=False, help_text=_("Of the lines that count."))

    cap_per_transaction = forms.IntegerField(label=_("Cap per transaction"), required=False)
    cap_per_member_day = forms.IntegerField(label=_("Cap per member per day"), required=False)
    cap_per_member_month = forms.IntegerField(label=_("Cap per member per month"), required=False)
    budget = forms.IntegerField(
        label=_("Budget"), required=False, help_text=_("The most points this rule may ever give. Empty: no limit.")
    )

    starts_at = LocalDateTimeField(label=_("Starts"), required=False, help_text=_("Empty: at once."))
    ends_at = LocalDateTimeField(label=_("Ends"), required=False, help_text=_("Empty: never."))
    combine = forms.ChoiceField(
        label=_("With other rules"), choices=list(COMBINE_LABELS.items()), initial=Combine.STACK
    )
    group = forms.CharField(
        label=_("Group"), max_length=50, required=False, help_text=_("Best-of rules only: the rules that compete.")
    )
    priority = forms.IntegerField(
        label=_("Priority"), initial=100, help_text=_("Higher goes first; on a tie in a group the first one wins.")
    )
    enabled = forms.BooleanField(label=_("On"), required=False, initial=True)

    SECTIONS = [
        (_("What it gives"), ["name", "kind", "point_type", "rate", "factor", "points", "rounding"]),
        (
            _("Conditions"),
            [
                "stores",
                "channels",
                "categories",
                "skus",
                "days_of_week",
                "date_from",
                "date_to",
                "time_from",
                "time_to",
                "member_tags",
                "tiers",
                "member_attributes",
                "min_spend",
            ],
        ),
        (_("Caps and budget"), ["cap_per_transaction", "cap_per_member_day", "cap_per_member_month", "budget"]),
        (_("Schedule and combining"), ["starts_at", "ends_at", "combine", "group", "priority", "enabled"]),
    ]

    def sections(self) -> list[tuple[Any, list[forms.BoundField]]]:
        listed = {name for _title, names in self.SECTIONS for name in names}
        extra = [self[name] for name in self.fields if name not in listed]
        sections = [(title, [self[name] for name in names]) for title, names in self.SECTIONS]
        return sections + ([("", extra)] if extra else [])

    @staticmethod
    def initial_from(name: str, config: RuleConfig | None) -> dict[str, Any]:
        if config is None:
            return {"name": name}
        c = config.conditions
        initial: dict[str, Any] = {
            "name": name,
            **{f: getattr(config, f) for f in ("point_type", "rate", "factor", "points", "budget", "group")},
            **{f: getattr(config, f) for f in ("starts_at", "ends_at", "priority", "enabled")},
            "kind": config.kind.value,
            "rounding": config.rounding.value,
            "combine": config.combine.value,
            **{f: list(getattr(c, f)) for f in LIST_CONDITIONS},
            "days_of_week": [str(d) for d in c.days_of_week],
            "member_attributes": dict(c.member_attributes),
            "min_spend": c.min_spend,
            **{f"cap_{cap}": getattr(config.caps, cap) for cap in CAPS},
        }
        if c.date_range:
            initial["date_from"], initial["date_to"] = c.date_range.start, c.date_range.end
        if c.time_window:
            initial["time_from"], initial["time_to"] = c.time_window.start, c.time_window.end
        return initial

    def config(self) -> dict[str, Any]:
        """The form as `RuleConfig` data: only what was filled in, so the config's defaults apply."""
        d = self.cleaned_data
        kind = d["kind"]
        config: dict[str, Any] = {
            "kind": kind,
            "point_type": d["point_type"],
            "rounding": d["rounding"],
            "combine": d["combine"],
            "priority": d["priority"],
            "enabled": d["enabled"],
            "conditions": self._conditions(),
            "caps": {cap: d[f"cap_{cap}"] for cap in CAPS if d[f"cap_{cap}"] is not None},
        }
        value = VALUE_FIELD.get(RuleKind(kind))
        if value and d[value] is not None:
            config[value] = d[value]
        if d["combine"] == Combine.BEST_OF:
            config["group"] = d["group"]
        for name in ("budget", "starts_at", "ends_at"):
            if d[name] is not None:
                config[name] = d[name]
        return config

    def _conditions(self) -> dict[str, Any]:
        d = self.cleaned_data
        conditions: dict[str, Any] = {name: d[name] for name in LIST_CONDITIONS if d[name]}
        if d["member_attributes"]:
            conditions["member_attributes"] = d["member_attributes"]
        if d["min_spend"] is not None:
            conditions["min_spend"] = d["min_spend"]
        for key, start, end in (("date_range", "date_from", "date_to"), ("time_window", "time_from", "time_to")):
            ends = {side: d[name] for side, name in (("start", start), ("end", end)) if d[name] is not None}
            if ends:
                conditions[key] = ends
        return conditions

    def show_service_error(self, exc: DomainError) -> None:
        place_service_error(self, exc, lambda path: _field_in(self, path, RULE_PATHS, _config_field))


class RuleEditForm(RuleForm):
    reason = forms.CharField(
        label=_("Why (for the audit log)"), max_length=200, required=False, widget=forms.TextInput()
    )


# --------------------------------------------------------------------------- presets

PARAM_LABELS = {
    "rate": _("Points per ¥1"),
    "factor": _("Factor"),
    "category": _("Product category"),
    "start": _("From time of day"),
    "end": _("To time of day"),
    "store": _("Store code"),
    "points": _("Points"),
    "days": _("For how many days"),
    "starts": _("First day"),
    "min_spend": _("Minimum spend"),
}
PARAM_INPUTS = {"start": "time", "end": "time", "starts": "date"}
# Where a preset's config puts each parameter, so a refusal of the config shows on its parameter.
PRESET_PATHS = {
    "conditions.categories": "category",
    "conditions.stores": "store",
    "conditions.time_window.start": "start",
    "conditions.time_window": "end",
    "conditions.min_spend": "min_spend",
    "conditions.date_range": "starts",
    "caps.per_member_day": "points",
}


def _param_field(key: str, default: Any, required: bool) -> forms.Field:
    label = PARAM_LABELS.get(key, key)
    if isinstance(default, int):
        return forms.IntegerField(label=label, initial=default)
    widget = forms.TextInput(attrs={"type": PARAM_INPUTS.get(key, "text")})
    # A parameter with a default must keep one; only a required one starts empty.
    return forms.CharField(label=label, initial=default, required=required or default != "", widget=widget)


class PresetForm(forms.Form):
    """A preset's parameters (with its defaults) and an optional name for the new rule."""

    name = forms.CharField(label=_("Name"), max_length=100, required=False, help_text=_("Empty: the preset's name."))

    def __init__(self, *args: Any, preset: Preset, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", preset.key)  # one page holds every preset's form
        super().__init__(*args, **kwargs)
        self.preset = preset
        for key, default in preset.params.items():
            self.fields[key] = _param_field(key, default, key in preset.required)

    def params(self) -> dict[str, Any]:
        return {key: self.cleaned_data[key] for key in self.preset.params}

    def show_service_error(self, exc: DomainError) -> None:
        place_service_error(self, exc, lambda path: _field_in(self, path, PRESET_PATHS, lambda key: key))


# --------------------------------------------------------------------------- switching, filtering


class SwitchForm(forms.Form):
    enabled = forms.TypedChoiceField(
        choices=[("on", _("On")), ("off", _("Off"))], coerce=lambda value: value == "on", empty_value=None
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class RuleFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("Show"),
        choices=[("", _("All rules")), ("enabled", _("On")), ("disabled", _("Off"))],
        required=False,
    )


# --------------------------------------------------------------------------- the sample basket


class PreviewForm(forms.Form):
    """A sample basket: where, when, who (optional), and a total or up to five lines."""

    store_code = forms.CharField(label=_("Store code"), max_length=64, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.STORE, required=False)
    at = LocalDateTimeField(label=_("Time (local)"), required=False, help_text=_("Empty: now."))
    member_no = forms.CharField(
        label=_("Member number"),
        max_length=20,
        required=False,
        help_text=_("Empty: a shopper who has not identified (no tags, attributes or tier; caps unused)."),
    )
    amount = forms.DecimalField(
        label=_("Total paid"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Empty: the sum of the lines."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, PREVIEW_LINES + 1):
            line = {
                "sku": forms.CharField(label=_("SKU"), max_length=64, required=False),
                "category": forms.CharField(label=_("Category"), max_length=64, required=False),
                "quantity": forms.DecimalField(
                    label=_("Quantity"), max_digits=12, decimal_places=3, min_value=Decimal("0.001"), required=False
                ),
                "amount": forms.DecimalField(
                    label=_("Amount"), max_digits=14, decimal_places=2, min_value=0, required=False
                ),
            }
            for part, field in line.items():
                # The lines are a table without a label per cell: say which cell it is.
                field.widget.attrs["aria-label"] = gettext("Line %(n)s: %(what)s") % {"n": n, "what": field.label}
                self.fields[f"line{n}_{part}"] = field

    @staticmethod
    def default() -> dict[str, Any]:
        return {"at": clock.now().replace(second=0, microsecond=0), "channel": Channel.STORE}

    def general_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("store_code", "channel", "at", "member_no", "amount")]

    def line_rows(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"line{n}_{part}"] for part in ("sku", "category", "quantity", "amount")]
            for n in range(1, PREVIEW_LINES + 1)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lines = []
        for n in range(1, PREVIEW_LINES + 1):
            sku, category = data.get(f"line{n}_sku", ""), data.get(f"line{n}_category", "")
            quantity, amount = data.get(f"line{n}_quantity"), data.get(f"line{n}_amount")
            if not (sku or category or quantity is not None or amount is not None):
                continue
            if amount is None:
                self.add_error(f"line{n}_amount", _("A line needs its amount."))
                continue
            lines.append(engine.BasketLine(sku=sku, category=category, quantity=quantity or Decimal(1), amount=amount))
        data["lines"] = tuple(lines)
        if data.get("amount") is None and not lines and not self.errors:
            self.add_error("amount", _("Give the total or at least one line."))
        return data

    def basket(self) -> engine.Basket:
        d = self.cleaned_data
        lines: tuple[engine.BasketLine, ...] = d["lines"]
        amount = d["amount"] if d["amount"] is not None else sum((x.amount for x in lines), Decimal(0))
        return engine.Basket(
            store_code=d["store_code"].strip(),
            channel=d["channel"] or Channel.STORE,  # a link without one: as at the till
            at=d["at"] or clock.now(),
            amount=amount,
            currency=settings.PATRON["DEFAULT_CURRENCY"],
            lines=lines,
        )
