"""Forms of the member registry's console pages. They parse and check input; services decide."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from patron.core import clock
from patron.core.errors import DomainError
from patron.core.i18n import in_reader_language
from patron.core.permissions import ROLE_LABELS, Role
from patron.members.models import (
    AttributeDefinition,
    AttributeType,
    Channel,
    ConsentPurpose,
    Gender,
    JoinChannel,
    Member,
    MemberStatus,
    Store,
)
from patron.members.phones import normalize_phone
from patron.members.queries import MemberFilter
from patron.members.services import time_zone_names

# Why each consent is asked for (PIPL art. 14/17: the person is told the purpose before agreeing).
CONSENT_PURPOSES_EXPLAINED = {
    ConsentPurpose.TERMS: _(
        "Needed to run the membership: we keep your name, phone and purchases to give you points and benefits."
    ),
    ConsentPurpose.SMS_MARKETING: _("We may send you offers and event news by text message. You can stop any time."),
    ConsentPurpose.EMAIL_MARKETING: _("We may send you offers and newsletters by email. You can stop any time."),
    ConsentPurpose.PROFILING: _("We analyse your purchases to suggest products and offers that suit you."),
    ConsentPurpose.SENSITIVE: _(
        "We may record sensitive details you tell us (for example your child's age) to tailor our service."
    ),
    ConsentPurpose.PARTNER_SHARING: _("We may share your contact details with named partner brands for joint offers."),
}
NOTICE_VERSION = "2026-01"


def store_label(store: Store) -> str:
    return f"{in_reader_language(store.name, store.name_en)} ({store.code})"


class StoreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Store) -> str:  # type: ignore[override]
        return store_label(obj)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _blank_first(choices: Any) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


# --------------------------------------------------------------------------- members


class MemberFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": _("Phone, last 4 digits, name, pinyin, member or card no., tag:name")}
        ),
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_blank_first(MemberStatus.choices))
    store = forms.ChoiceField(label=_("Store"), required=False)
    join_channel = forms.ChoiceField(label=_("Join channel"), required=False, choices=_blank_first(JoinChannel.choices))
    tag = forms.CharField(label=_("Tag"), required=False)
    joined_from = forms.DateField(label=_("Joined from"), required=False, widget=_date_input())
    joined_to = forms.DateField(label=_("Joined to"), required=False, widget=_date_input())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stores = Store.objects.order_by("code")
        self.fields["store"].choices = _blank_first((s.code, store_label(s)) for s in stores)  # type: ignore[attr-defined]

    def to_filter(self) -> MemberFilter:
        data = self.cleaned_data if self.is_valid() else {}
        return MemberFilter(
            q=data.get("q", ""),
            tag=data.get("tag", ""),
            status=data.get("status", ""),
            store=data.get("store", ""),
            join_channel=data.get("join_channel", ""),
            joined_from=data.get("joined_from"),
            joined_to=data.get("joined_to"),
        )


class MemberForm(forms.Form):
    """Profile fields shared by create and edit."""

    name = forms.CharField(label=_("Name"), max_length=100)
    phone = forms.CharField(label=_("Mobile phone"), max_length=30)
    email = forms.EmailField(label=_("Email"), required=False)
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, initial=Gender.UNKNOWN)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=_date_input())
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    language = forms.ChoiceField(label=_("Preferred language"), choices=settings.LANGUAGES, initial="zh-hans")
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("For the member's local day (daily check-in). Blank: the program's zone."),
    )
    store = StoreChoiceField(label=_("Store"), queryset=Store.objects.filter(is_active=True), required=False)
    card_no = forms.CharField(label=_("Card number"), max_length=32, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = sorted(time_zone_names())
        self.fields["time_zone"].choices = [("", _("The program's zone")), *((n, n) for n in names)]  # type: ignore[attr-defined]

    def clean_phone(self) -> str:
        """Check the number early so its error shows with the others; the service normalizes it again."""
        raw = self.cleaned_data["phone"].strip()
        if raw:
            try:
                normalize_phone(raw)
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return raw


class MemberCreateForm(MemberForm):
    join_channel = forms.ChoiceField(label=_("Join channel"), choices=JoinChannel.choices, initial=JoinChannel.STORE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for purpose in ConsentPurpose:
            self.fields[f"consent_{purpose.value}"] = forms.BooleanField(
                label=purpose.label,
                required=purpose == ConsentPurpose.TERMS,
                help_text=CONSENT_PURPOSES_EXPLAINED[purpose],
            )

    def consents(self) -> dict[str, bool]:
        return {p.value: bool(self.cleaned_data.get(f"consent_{p.value}")) for p in ConsentPurpose}


class MemberEditForm(MemberForm):
    """The phone is left blank unless it changes: the full number is not shown without a reveal."""

    def __init__(self, *args: Any, member: Member, masked_phone: str, **kwargs: Any) -> None:
        initial = {
            "name": member.name,
            "email": member.email,
            "gender": member.gender,
            "birthday": member.birthday,
            "city": member.city,
            "language": member.language,
            "time_zone": member.time_zone,
            "store": member.store_id,
            "card_no": member.card_no or "",
        }
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        phone = self.fields["phone"]
        phone.required = False
        phone.help_text = _("Now %(masked)s. Leave blank to keep it.") % {"masked": masked_phone}

    def changes(self) -> dict[str, Any]:
        fields = ["name", "email", "gender", "birthday", "city", "language", "time_zone", "store", "card_no"]
        out = {name: self.cleaned_data[name] for name in fields}
        if self.cleaned_data.get("phone"):
            out["phone"] = self.cleaned_data["phone"]
        return out


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("New status"),
        choices=[
            (MemberStatus.FROZEN, _("Freeze")),
            (MemberStatus.ACTIVE, _("Unfreeze")),
            (MemberStatus.CLOSED, _("Close")),
        ],
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class TagForm(forms.Form):
    tag = forms.CharField(label=_("Tag"), max_length=50)


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    granted = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Granted")), ("0", _("Withdrawn"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    notice_version = forms.CharField(label=_("Privacy notice version"), max_length=20, initial=NOTICE_VERSION)


def _attribute_field(definition: AttributeDefinition) -> forms.Field:
    label = in_reader_language(definition.label, definition.label_en)
    common: dict[str, Any] = {"label": label, "required": False}
    if definition.sensitive:
        common["help_text"] = _("Sensitive: needs the member's consent")
    if definition.type == AttributeType.CHOICE:
        return forms.ChoiceField(choices=_blank_first((c, c) for c in definition.choices), **common)
    if definition.type == AttributeType.BOOLEAN:
        return forms.ChoiceField(choices=_blank_first([("yes", _("Yes")), ("no", _("No"))]), **common)
    input_types: dict[str, str] = {AttributeType.DATE: "date", AttributeType.INTEGER: "number"}
    input_type = input_types.get(definition.type, "text")
    return forms.CharField(widget=forms.TextInput(attrs={"type": input_type}), **common)


def _attribute_initial(value: Any) -> Any:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return value


class AttributesForm(forms.Form):
    """One field per active extended-profile attribute; the service checks the values."""

    def __init__(self, *args: Any, current: dict[str, Any], **kwargs: Any) -> None:
        kwargs["initial"] = {k: _attribute_initial(v) for k, v in current.items()}
        super().__init__(*args, **kwargs)
        for definition in AttributeDefinition.objects.filter(is_active=True):
            self.fields[definition.key] = _attribute_field(definition)

    def changed_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class MergeForm(forms.Form):
    member_no = forms.CharField(
        label=_("Member number of the duplicate"),
        max_length=20,
        help_text=_("This record is absorbed: its purchases, consents, tags and history move to the member above."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


# --------------------------------------------------------------------------- transactions


def new_receipt_no() -> str:
    return f"C{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(2).upper()}"


class SaleForm(forms.Form):
    store = StoreChoiceField(label=_("Store"), queryset=Store.objects.none())
    external_id = forms.CharField(
        label=_("Receipt number"), max_length=64, required=False, help_text=_("Leave blank to number it automatically.")
    )
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial=settings.PATRON["DEFAULT_CURRENCY"])
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.STORE)
    occurred_at = forms.DateTimeField(
        label=_("Time"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave blank for now."),
    )

    def __init__(self, *args: Any, own_store: Store | None, cashier: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["store"]
        if cashier:  # a cashier records sales for their own store only
            own = Store.objects.filter(pk=own_store.pk) if own_store else Store.objects.none()
            field.queryset = own  # type: ignore[attr-defined]
        else:
            field.queryset = Store.objects.filter(is_active=True)  # type: ignore[attr-defined]
        field.initial = own_store

    def clean_external_id(self) -> str:
        return self.cleaned_data["external_id"].strip() or new_receipt_no()

    def clean_occurred_at(self) -> Any:
        return self.cleaned_data["occurred_at"] or clock.now()


class RefundForm(forms.Form):
    external_id = forms.CharField(
        label=_("Refund receipt number"), max_length=64, required=False, help_text=_("Leave blank to number it.")
    )
    amount = forms.DecimalField(label=_("Amount to refund"), max_digits=14, decimal_places=2, min_value=0)

    def clean_external_id(self) -> str:
        return self.cleaned_data["external_id"].strip() or new_receipt_no()


# --------------------------------------------------------------------------- stores, staff, settings


class StoreForm(forms.Form):
    code = forms.CharField(label=_("Store code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=100, required=False)
    city = forms.CharField(label=_("City"), max_length=50)
    region = forms.CharField(label=_("Region"), max_length=50, required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)


class StoreEditForm(StoreForm):
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["code"]  # the code is the store's identity on tills and in imports


ROLE_CHOICES = [(role.value, ROLE_LABELS[role]) for role in Role]


class StaffForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)
    store = StoreChoiceField(
        label=_("Store"),
        queryset=Store.objects.filter(is_active=True),
        required=False,
        help_text=_("Required for cashiers."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("role") == Role.CASHIER and not data.get("store"):
            self.add_error("store", _("A cashier must be bound to a store."))
        return data


class StaffCreateForm(StaffForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("Email"), required=False)
    password = forms.CharField(label=_("Initial password"), min_length=10, widget=forms.PasswordInput)

    field_order = ["username", "display_name", "email", "role", "store", "password"]

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip()


class StaffEditForm(StaffForm):
    is_active = forms.BooleanField(label=_("Can sign in"), required=False)


class AttributeDefinitionForm(forms.Form):
    key = forms.SlugField(
        label=_("Key"), max_length=50, help_text=_("Letters, digits and _; used in imports and the API.")
    )
    label = forms.CharField(label=_("Label (Chinese)"), max_length=100)
    label_en = forms.CharField(label=_("Label (English)"), max_length=100)
    type = forms.ChoiceField(label=_("Type"), choices=AttributeType.choices)
    choices = forms.CharField(
        label=_("Choices"), required=False, help_text=_("For a choice attribute: the options, separated by commas.")
    )
    sensitive = forms.BooleanField(
        label=_("Sensitive"), required=False, help_text=_("Stored only for members who consented to it.")
    )

    def clean_choices(self) -> list[str]:
        text = self.cleaned_data["choices"].replace("，", ",")
        return [c.strip() for c in text.split(",") if c.strip()]
