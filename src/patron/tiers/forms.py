"""Forms of the tiers' console pages.

The editor parses a tier model into the shape of `tiers.config.TierModelConfig`: the policy as
fields of `TierModelForm`, the ladder as a formset of `TierForm` (one per tier, lowest first), each
tier's earning multiplier as a field and its other benefits as JSON. Ranges and the rules between
fields are `check_model_config`'s to decide, through the services; its refusals come back onto the
field they name (`TierModelForm.show_service_error`), or above the form when they name none.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from django import forms
from django.utils.dates import MONTHS
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from patron.core import clock
from patron.core.errors import DomainError
from patron.core.forms import readable
from patron.tiers.config import MAX_TIERS, Combine, Downgrade, ReviewKind, WindowKind
from patron.tiers.models import ChangeReason

WINDOW_LABELS = {
    WindowKind.CALENDAR_YEAR: _("The calendar year so far"),
    WindowKind.ROLLING: _("A rolling number of months"),
    WindowKind.SINCE_JOINING: _("Everything since joining"),
}
REVIEW_LABELS = {
    ReviewKind.FIXED_DATE: _("Every year on a fixed date"),
    ReviewKind.ANNIVERSARY: _("On the anniversary of the tier"),
    ReviewKind.EVERY_N_MONTHS: _("Every N months after the tier started"),
}
DOWNGRADE_LABELS = {
    Downgrade.ONE_LEVEL: _("One level at a time"),
    Downgrade.TO_QUALIFIED: _("Straight to the tier the member qualifies for"),
}
COMBINE_LABELS = {
    Combine.ANY: _("Any one threshold is enough"),
    Combine.ALL: _("Every threshold must be met"),
}
REASON_LABELS = dict(ChangeReason.choices)
QUALIFY = ("spend", "purchase_days", "points")
TIER_PREFIX = "tier"

# Config paths of the policy whose form field is not named after them.
POLICY_PATHS = {
    "window.kind": "window_kind",
    "window.months": "window_months",
    "window": "window_months",  # the window's own checks are about its number of months
    "review.kind": "review_kind",
    "review.months": "review_months",
    "review.month": "review_month",
    "review.day": "review_day",
}


def _config_errors(exc: DomainError) -> dict[str, str] | None:
    """{path: message} when the refusal is the config check's (pydantic underneath), else None."""
    return dict(exc.fields) if isinstance(exc.__cause__, ValidationError) and exc.fields else None


# --------------------------------------------------------------------------- one tier of the ladder


class BenefitsField(forms.CharField):
    """A tier's benefits other than the earning multiplier, as a JSON list of objects."""

    widget = forms.Textarea(attrs={"rows": 4, "class": "mono", "spellcheck": "false"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[dict[str, Any]]:  # type: ignore[override]
        text = (super().to_python(value) or "").strip()
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("This is not valid JSON: %(why)s"), params={"why": str(exc)}) from exc
        if isinstance(parsed, dict):
            parsed = [parsed]
        if not isinstance(parsed, list) or not all(isinstance(item, dict) for item in parsed):
            raise forms.ValidationError(_("Write a list of benefits, each an object with its “kind”."))
        return parsed

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return json.dumps(list(value), ensure_ascii=False, indent=1) if value else ""
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != list(initial or [])
        except forms.ValidationError:
            return True


class TierForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32, help_text=_("Lower-case letters, digits, - and _."))
    name = forms.CharField(label=_("Name (Chinese)"), max_length=50)
    name_en = forms.CharField(label=_("Name (English)"), max_length=50)
    color = forms.CharField(
        label=_("Color"), max_length=7, initial="#8c8c8c", widget=forms.TextInput(attrs={"type": "color"})
    )
    badge = forms.CharField(label=_("Badge"), max_length=50, required=False, help_text=_("An icon or a short label."))
    lifetime = forms.BooleanField(label=_("For life once reached"), required=False)
    combine = forms.ChoiceField(label=_("Thresholds"), choices=list(COMBINE_LABELS.items()), initial=Combine.ANY)
    spend = forms.DecimalField(label=_("Spend (¥)"), required=False, help_text=_("Net of refunds, in the window."))
    purchase_days = forms.IntegerField(label=_("Purchase days"), required=False)
    points = forms.IntegerField(label=_("Qualifying points"), required=False)
    multiplier = forms.DecimalField(
        label=_("Earning multiplier"), required=False, help_text=_("1.5 gives half as many points again.")
    )
    benefits = BenefitsField(
        label=_("Other benefits (JSON)"),
        help_text=_(
            'A list, e.g. [{"kind": "birthday_gift", "points": 200}, {"kind": "priority_line", "line": "vip"}]. '
            "Kinds: exclusive_rewards, birthday_gift, free_service, priority_line, event_access."
        ),
    )

    IDENTITY = ("code", "name", "name_en", "color", "badge", "lifetime")

    def __init__(self, *args: Any, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    @staticmethod
    def initial_from(tier: dict[str, Any]) -> dict[str, Any]:
        qualify = tier.get("qualify") or {}
        benefits = list(tier.get("benefits") or [])
        multiplier = next((b.get("factor") for b in benefits if b.get("kind") == "earn_multiplier"), None)
        return {
            **{name: tier.get(name) for name in TierForm.IDENTITY if tier.get(name) not in (None, "")},
            "combine": qualify.get("combine", Combine.ANY),
            **{name: qualify.get(name) for name in QUALIFY},
            "multiplier": multiplier,
            # Without the settings left at their defaults ("note": "" ...): they come back on saving.
            "benefits": [
                {k: v for k, v in b.items() if v not in ("", None, [])}
                for b in benefits
                if b.get("kind") != "earn_multiplier"
            ],
        }

    def has_multiplier(self) -> bool:
        return self.cleaned_data.get("multiplier") is not None

    def tier(self) -> dict[str, Any]:
        """This tier as `TierSpec` data: only what was filled in, so the config's defaults apply."""
        d = self.cleaned_data
        qualify: dict[str, Any] = {"combine": d["combine"]}
        qualify.update({name: d[name] for name in QUALIFY if d[name] is not None})
        benefits: list[dict[str, Any]] = []
        if d["multiplier"] is not None:
            benefits.append({"kind": "earn_multiplier", "factor": d["multiplier"]})
        benefits.extend(d["benefits"])
        tier = {name: d[name] for name in self.IDENTITY}
        return {**tier, "qualify": qualify, "benefits": benefits}

    def place(self, path: str, why: str) -> None:
        """Put the config check's message about `path` (inside this tier) on its field."""
        parts = path.split(".") if path else []
        head = parts[0] if parts else ""
        if head == "code" and len(parts) == 1 and "pattern" in why:
            self.add_error(head, gettext("Use lower-case letters, digits, - and _ only."))
        elif head in self.IDENTITY and len(parts) == 1:
            self.add_error(head, why)
        elif head == "qualify" and len(parts) == 2 and parts[1] in (*QUALIFY, "combine"):
            self.add_error(parts[1], why)
        elif head == "benefits" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            if self.has_multiplier() and index == 0:
                self.add_error("multiplier", why)
                return
            number = index + (0 if self.has_multiplier() else 1)
            where = ".".join(parts[2:])
            said = gettext("Benefit %(n)s, %(where)s: %(why)s") if where else gettext("Benefit %(n)s: %(why)s")
            self.add_error("benefits", said % {"n": number, "where": where, "why": why})
        elif head == "benefits":
            self.add_error("benefits", why)
        else:
            self.add_error(None, why)


class BaseTierFormSet(forms.BaseFormSet):
    def kept_forms(self) -> list[TierForm]:
        """The tiers to save, lowest first: in the order given, without deleted or untouched rows."""
        return list(self.ordered_forms)  # type: ignore[attr-defined]


def tier_formset(extra: int) -> type[BaseTierFormSet]:
    made = forms.formset_factory(
        TierForm,
        formset=BaseTierFormSet,
        extra=extra,
        can_order=True,
        can_delete=True,
        max_num=MAX_TIERS,
        absolute_max=MAX_TIERS * 4,
    )
    return cast(type[BaseTierFormSet], made)


# --------------------------------------------------------------------------- the model editor


class TierModelForm(forms.Form):
    """A tier model: its name and policy as fields, its ladder as `self.ladder` (a formset)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    window_kind = forms.ChoiceField(
        label=_("What counts"), choices=list(WINDOW_LABELS.items()), initial=WindowKind.CALENDAR_YEAR
    )
    window_months = forms.IntegerField(label=_("Months in the window"), required=False, help_text=_("Rolling only."))
    review_kind = forms.ChoiceField(
        label=_("When members can move down"), choices=list(REVIEW_LABELS.items()), initial=ReviewKind.FIXED_DATE
    )
    review_months = forms.IntegerField(label=_("Every how many months"), required=False, help_text=_("Every N only."))
    review_month = forms.TypedChoiceField(
        label=_("Review month"),
        choices=[("", "—"), *MONTHS.items()],
        coerce=int,
        empty_value=None,
        required=False,
        initial=1,
        help_text=_("Fixed date only."),
    )
    review_day = forms.IntegerField(label=_("Review day"), required=False, initial=1, help_text=_("Fixed date only."))
    downgrade = forms.ChoiceField(
        label=_("Moving down"), choices=list(DOWNGRADE_LABELS.items()), initial=Downgrade.ONE_LEVEL
    )
    grace_days = forms.IntegerField(
        label=_("Grace days"),
        initial=0,
        help_text=_("After a review that would move a member down, how long they keep the tier to re-qualify."),
    )
    at_risk_days = forms.IntegerField(
        label=_("Warn days before the review"),
        initial=30,
        help_text=_("Members who would move down are warned this many days before."),
    )
    refund_reverts_upgrade = forms.BooleanField(
        label=_("A refund can undo the upgrade its sale gave"), required=False, initial=True
    )

    SECTIONS = [
        (_("Model"), ["name"]),
        (_("What counts"), ["window_kind", "window_months"]),
        (_("Reviews"), ["review_kind", "review_months", "review_month", "review_day", "downgrade"]),
        (_("Grace, warnings and refunds"), ["grace_days", "at_risk_days", "refund_reverts_upgrade"]),
    ]

    def __init__(
        self,
        data: Any = None,
        *,
        initial: dict[str, Any] | None = None,
        tiers: list[dict[str, Any]] | None = None,
        extra: int = 1,
        read_only: bool = False,
    ) -> None:
        super().__init__(data, initial=initial)
        self.read_only = read_only
        if read_only:
            for field in self.fields.values():
                field.disabled = True
        tiers_initial = [TierForm.initial_from(t) for t in tiers or []]
        formset = tier_formset(0 if read_only else extra)
        self.ladder = formset(data, initial=tiers_initial, prefix=TIER_PREFIX, form_kwargs={"read_only": read_only})
        self._saved_tiers: list[TierForm] = []

    def sections(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]

    @staticmethod
    def initial_from(name: str, config: dict[str, Any]) -> dict[str, Any]:
        window = config.get("window") or {}
        review = config.get("review") or {}
        return {
            "name": name,
            "window_kind": window.get("kind"),
            "window_months": window.get("months"),
            "review_kind": review.get("kind"),
            "review_months": review.get("months"),
            "review_month": review.get("month"),
            "review_day": review.get("day"),
            **{k: config.get(k) for k in ("downgrade", "grace_days", "at_risk_days", "refund_reverts_upgrade")},
        }

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and not self.ladder.is_valid():
            self.add_error(None, gettext("Check the tiers below."))

    def config(self) -> dict[str, Any]:
        """The form as `TierModelConfig` data: only what applies to the kinds chosen."""
        d = self.cleaned_data
        window: dict[str, Any] = {"kind": d["window_kind"]}
        if d["window_kind"] == WindowKind.ROLLING:
            window["months"] = d["window_months"]
        review: dict[str, Any] = {"kind": d["review_kind"]}
        if d["review_kind"] == ReviewKind.EVERY_N_MONTHS:
            review["months"] = d["review_months"]
        elif d["review_kind"] == ReviewKind.FIXED_DATE:
            review["month"], review["day"] = d["review_month"], d["review_day"]
        self._saved_tiers = self.ladder.kept_forms()
        return {
            "tiers": [form.tier() for form in self._saved_tiers],
            "window": window,
            "review": review,
            "downgrade": d["downgrade"],
            "grace_days": d["grace_days"],
            "at_risk_days": d["at_risk_days"],
            "refund_reverts_upgrade": d["refund_reverts_upgrade"],
        }

    def show_service_error(self, exc: DomainError) -> None:
        """A config check names each field with its own message: each goes on its field (a tier's
        on that tier's row); what names no field goes above the form."""
        fields = _config_errors(exc)
        if fields is None:
            named = [name for name in exc.fields if name in self.fields]
            for name in named:
                self.add_error(name, exc.message)
            if not named:
                self.add_error(None, exc.message)
            return
        on_tiers = False
        for path, why in fields.items():
            said = readable(why)
            if self._place_on_tier(path, said):
                on_tiers = True
                continue
            self.add_error(self._policy_field(path), said)
        if on_tiers:
            self.add_error(None, gettext("Check the tiers below."))

    def _place_on_tier(self, path: str, why: str) -> bool:
        parts = path.split(".")
        if parts[0] != "tiers" or len(parts) < 2 or not parts[1].isdigit():
            return False
        index = int(parts[1])
        if index >= len(self._saved_tiers):
            return False
        self._saved_tiers[index].place(".".join(parts[2:]), why)
        return True

    def _policy_field(self, path: str) -> str | None:
        if path == "review":  # the review's own checks: about the setting of its kind
            by_kind: dict[str, str] = {ReviewKind.EVERY_N_MONTHS: "review_months", ReviewKind.FIXED_DATE: "review_day"}
            return by_kind.get(str(self.cleaned_data.get("review_kind") or ""), "review_kind")
        name = POLICY_PATHS.get(path, path)
        return name if name in self.fields else None


# --------------------------------------------------------------------------- other forms


class NewFromPresetForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False, help_text=_("Empty: the preset's name."))


class CopyForm(forms.Form):
    name = forms.CharField(label=_("Name of the copy"), max_length=100, required=False)


class GoLiveForm(forms.Form):
    reason = forms.CharField(label=_("Why (for the audit log)"), max_length=200)
    confirm = forms.BooleanField(
        label=_("I understand that every member is re-evaluated under this model and may move up or down."),
    )


class OverrideForm(forms.Form):
    """Show a member another tier until a date (inclusive, in the members' time zone)."""

    tier = forms.ChoiceField(label=_("Tier"))
    until = forms.DateField(
        label=_("Until (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, tiers: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["tier"]).choices = tiers

    def until_at(self) -> dt.datetime:
        """The end of the chosen day in the members' time zone, as an aware time."""
        day: dt.date = self.cleaned_data["until"]
        try:
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=clock.member_zone())
        except OverflowError:  # 9999-12-31: the service refuses what is that far anyway
            return dt.datetime.combine(day, dt.time(23, 59), tzinfo=clock.member_zone())


class EndOverrideForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)
