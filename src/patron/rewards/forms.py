"""Forms of the rewards' console pages: the catalog, categories, orders, redeeming for a member,
coupon batches and issuing, the code lookup, badges and report downloads.

Forms parse what staff typed into the shapes the services take; the rules (a gift is picked up or
delivered, a coupon reward names its batch, a percentage between 1 and 99, …) are the services' to
decide. Their refusals come back onto the field they name (`put_error`), or above the form.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from patron.core.errors import DomainError
from patron.core.forms import CodeListField, LocalDateTimeField
from patron.core.i18n import in_reader_language
from patron.members.models import LIVE_STATUSES, Member, Store, Tag
from patron.rewards import badges as badge_rules
from patron.rewards import codes, services
from patron.rewards.models import (
    Badge,
    CodeMode,
    CouponBatch,
    CouponKind,
    Fulfilment,
    LimitPeriod,
    OrderStatus,
    Reward,
    RewardCategory,
    RewardKind,
    Stacking,
)
from patron.rewards.services import tier_codes
from patron.tiers import queries as tier_queries

IMAGE_MAX_BYTES = 2 * 1024 * 1024
INT_MAX = 2_147_483_647  # a PositiveIntegerField's column
SMALL_MAX = 32_767  # a PositiveSmallIntegerField's column
GENERATE_INLINE = 10_000  # the same for generated codes
GENERATE_MAX = 10_000_000
WAITING = "waiting"  # the orders queue's default: confirmed gifts and stored value, to hand over or credit


def put_error(form: forms.Form, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    """A service's refusal on the fields it names (`address.name` is the form's `address_name`; an
    alias maps a service's name to the form's), else above the form.

    The services say a field's problem in two ways: a check of the whole object names each field
    with its own sentence under a summary ("The reward is not valid."), a single refusal says it in
    its message and tags the field ("required"). A field gets its own sentence when it has one
    (the summary then goes above the form), else the message."""
    aliases = aliases or {}
    named: dict[str, str] = {}
    for key, said in exc.fields.items():
        name = aliases.get(key, key.replace(".", "_"))
        if name in form.fields and name not in named:
            named[name] = str(said)
    if not named:
        form.add_error(None, exc.message)
        return
    own = {name: said for name, said in named.items() if _is_sentence(said)}
    if own and exc.message not in own.values():
        form.add_error(None, exc.message)
    for name, said in named.items():
        form.add_error(name, said if name in own else exc.message)


def _is_sentence(text: str) -> bool:
    return text.rstrip().endswith((".", "。", "?", "？", "!", "！"))


def _label(model: type[Model], name: str) -> Any:
    """The model field's name, capitalized as a form label (translated when drawn)."""
    return capfirst(model._meta.get_field(name).verbose_name)  # type: ignore[union-attr]


def _checkboxes() -> forms.CheckboxSelectMultiple:
    return forms.CheckboxSelectMultiple(attrs={"class": "choices"})


def _count(label: Any, *, required: bool = False, small: bool = False, low: int = 0, **kw: Any) -> forms.IntegerField:
    """A whole number that fits its column (a positive integer column refuses what is below zero)."""
    return forms.IntegerField(
        label=label, required=required, min_value=low, max_value=SMALL_MAX if small else INT_MAX, **kw
    )


def _money(label: Any, *, required: bool = False, **kw: Any) -> forms.DecimalField:
    return forms.DecimalField(label=label, required=required, max_digits=12, decimal_places=2, **kw)


class StoreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Store) -> str:  # type: ignore[override]
        return f"{in_reader_language(obj.name, obj.name_en)} ({obj.code})"


class StoresField(forms.ModelMultipleChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Store.objects.filter(is_active=True).order_by("code"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", _checkboxes())
        super().__init__(**kwargs)

    def label_from_instance(self, obj: Store) -> str:  # type: ignore[override]
        return f"{in_reader_language(obj.name, obj.name_en)} ({obj.code})"


class BilingualChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display} ({obj.code})"


def tier_choices(keep: list[str] | tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The live model's tiers (by `services.tier_codes`), named in the reader's language, plus any
    code `keep` holds that the live model no longer has (so an edit does not drop it unseen)."""
    from patron.tiers import queries as tier_queries

    names = {t["code"]: in_reader_language(t["name"], t["name_en"]) for t in tier_queries.tier_list()}
    known = tier_codes()
    choices = [(code, f"{names.get(code, code)} ({code})") for code in known]
    choices += [(code, code) for code in keep if code not in known]
    return choices


# =========================================================================== images


def image_extension(head: bytes) -> str | None:
    """`.png`, `.jpg` or `.webp` by the file's first bytes (whatever its name says), else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    return None


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}


class ImageField(forms.FileField):
    """A reward's picture: PNG, JPEG or WebP by its content, under 2 MB. Saved under a name made
    from its real type, so a picture is never served as anything else."""

    widget = forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"})

    def clean(self, data: Any, initial: Any = None) -> Any:
        value = super().clean(data, initial)
        if not isinstance(value, UploadedFile):
            return value  # nothing uploaded
        if value.size is not None and value.size >= IMAGE_MAX_BYTES:
            raise forms.ValidationError(_("The image must be under 2 MB."), code="too_large")
        value.seek(0)
        head = value.read(16)
        value.seek(0)
        extension = image_extension(head)
        if extension is None:
            raise forms.ValidationError(_("Upload a PNG, JPEG or WebP image."), code="not_an_image")
        value.name = f"reward{extension}"
        return value


# =========================================================================== the catalog


YES_NO = [("", _("All")), ("yes", _("Active")), ("no", _("Inactive"))]


class RewardFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All")), *RewardKind.choices])
    category = BilingualChoiceField(
        label=_("Category"), required=False, queryset=RewardCategory.objects.all(), empty_label=_("All")
    )
    active = forms.ChoiceField(label=_("Active"), required=False, choices=YES_NO)

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        out: dict[str, Any] = {}
        if data["kind"]:
            out["kind"] = data["kind"]
        if data["category"] is not None:
            out["category"] = data["category"]
        if data["active"]:
            out["is_active"] = data["active"] == "yes"
        return out


class RewardForm(forms.Form):
    """All of a reward's fields. Creating asks for its code and opening stock; editing keeps the
    code, and stock changes by an adjustment with a reason instead."""

    code = forms.SlugField(label=_label(Reward, "code"), max_length=40)
    kind = forms.ChoiceField(label=_label(Reward, "kind"), choices=RewardKind.choices)
    name = forms.CharField(label=_label(Reward, "name"), max_length=100)
    name_en = forms.CharField(label=_label(Reward, "name_en"), max_length=100, required=False)
    description = forms.CharField(label=_label(Reward, "description"), required=False, widget=forms.Textarea)
    description_en = forms.CharField(label=_label(Reward, "description_en"), required=False, widget=forms.Textarea)
    image = ImageField(label=_label(Reward, "image"), required=False, help_text=_("PNG, JPEG or WebP, under 2 MB."))
    clear_image = forms.BooleanField(label=_("Remove the image"), required=False)
    category = BilingualChoiceField(
        label=_label(Reward, "category"), required=False, queryset=RewardCategory.objects.all()
    )
    points = forms.IntegerField(label=_label(Reward, "points"), min_value=-(2**62), max_value=2**62)
    cash = _money(_label(Reward, "cash"), initial=Decimal("0"))
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="CNY")
    fulfilment = forms.ChoiceField(label=_label(Reward, "fulfilment"), choices=Fulfilment.choices)
    stock = forms.IntegerField(
        label=_label(Reward, "stock"),
        required=False,
        min_value=-INT_MAX,
        max_value=INT_MAX,
        help_text=_("Leave blank for unlimited stock. A partner reward's stock is its pool of codes."),
    )
    total_limit = forms.IntegerField(
        label=_label(Reward, "total_limit"), required=False, min_value=-INT_MAX, max_value=INT_MAX
    )
    per_member_limit = _count(_label(Reward, "per_member_limit"))
    per_member_period = forms.ChoiceField(
        label=_label(Reward, "per_member_period"), choices=LimitPeriod.choices, initial=LimitPeriod.EVER
    )
    coupon_batch = BilingualChoiceField(
        label=_label(Reward, "coupon_batch"), required=False, queryset=CouponBatch.objects.order_by("code")
    )
    service_days = _count(_label(Reward, "service_days"))
    value = _money(_label(Reward, "value"))
    eligible_tiers = forms.MultipleChoiceField(
        label=_label(Reward, "eligible_tiers"),
        required=False,
        widget=_checkboxes(),
        help_text=_("None ticked: every tier may redeem it."),
    )
    stores = StoresField(label=_label(Reward, "stores"), help_text=_("None ticked: every store."))
    starts_at = LocalDateTimeField(label=_label(Reward, "starts_at"), required=False)
    ends_at = LocalDateTimeField(label=_label(Reward, "ends_at"), required=False)
    is_active = forms.BooleanField(label=_label(Reward, "is_active"), required=False, initial=True)
    position = _count(_("Position"), initial=0)

    def __init__(self, *args: Any, reward: Reward | None = None, **kwargs: Any) -> None:
        self.reward = reward
        if reward is not None:
            kwargs.setdefault("initial", self.initial_from(reward))
        super().__init__(*args, **kwargs)
        keep = list(reward.eligible_tiers) if reward is not None else []
        self.fields["eligible_tiers"].choices = tier_choices(keep)  # type: ignore[attr-defined]
        if reward is not None:
            del self.fields["code"]
            del self.fields["stock"]
        if reward is None or not reward.image:
            del self.fields["clear_image"]

    @staticmethod
    def initial_from(reward: Reward) -> dict[str, Any]:
        names = [name for name in REWARD_FORM_FIELDS if name not in ("stock", "image")]
        initial = {name: getattr(reward, name) for name in names}
        initial["stores"] = list(reward.stores.all())
        return initial

    def values(self) -> dict[str, Any]:
        """The service's keyword arguments: every field for a new reward; for an edit, only those
        changed (so the audit row says what changed), the image only when one was uploaded or removed."""
        data = self.cleaned_data
        names = [n for n in REWARD_FORM_FIELDS if n in self.fields and n != "image"]
        if self.reward is not None:
            names = [n for n in names if n in self.changed_data]
        out: dict[str, Any] = {}
        if data.get("image") is not None:
            out["image"] = data["image"]
        elif data.get("clear_image"):
            out["image"] = ""
        for name in names:
            value = data[name]
            if name == "cash":
                value = value if value is not None else Decimal("0")
            elif name == "position":
                value = value or 0
            elif name == "currency":
                value = (value or "CNY").upper()
            out[name] = value
        return out

    def chosen_stores(self) -> list[Store] | None:
        if self.reward is not None and "stores" not in self.changed_data:
            return None
        return list(self.cleaned_data["stores"])


# The service's fields in the form's order (stock only when creating).
REWARD_FORM_FIELDS = (  # noqa: SIM905
    "kind name name_en description description_en image category points cash currency fulfilment stock "
    "total_limit per_member_limit per_member_period coupon_batch service_days value eligible_tiers "
    "starts_at ends_at is_active position"
).split()


class StockForm(forms.Form):
    delta = forms.IntegerField(
        label=_("Change"),
        min_value=-INT_MAX,
        max_value=INT_MAX,
        help_text=_("Positive adds stock, negative takes it away."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class PartnerCodesForm(forms.Form):
    codes = forms.CharField(
        label=_("Partner codes"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono", "spellcheck": "false"}),
        help_text=_("One code a line; codes already in the pool are skipped."),
    )

    def lines(self) -> list[str]:
        return str(self.cleaned_data["codes"]).splitlines()


class CategoryForm(forms.Form):
    code = forms.SlugField(label=_label(RewardCategory, "code"), max_length=32)
    name = forms.CharField(label=_label(RewardCategory, "name"), max_length=60)
    name_en = forms.CharField(label=_label(RewardCategory, "name_en"), max_length=60, required=False)
    position = _count(_("Position"), small=True, initial=0)

    def __init__(self, *args: Any, category: RewardCategory | None = None, **kwargs: Any) -> None:
        self.category = category
        if category is not None:
            kwargs.setdefault(
                "initial",
                {
                    "code": category.code,
                    "name": category.name,
                    "name_en": category.name_en,
                    "position": category.position,
                },
            )
        super().__init__(*args, **kwargs)
        if category is not None:
            self.fields["code"].disabled = True

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "code": self.category.code if self.category else data["code"],
            "name": data["name"],
            "name_en": data["name_en"],
            "position": data["position"] or 0,
            "category": self.category,
        }


# =========================================================================== orders


ORDER_STATUS_CHOICES = [
    (WAITING, _("Waiting to be handed over or credited")),
    *OrderStatus.choices,
    ("all", _("All")),
]


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=ORDER_STATUS_CHOICES, initial=WAITING)
    store = StoreChoiceField(
        label=_("Store"), required=False, queryset=Store.objects.order_by("code"), empty_label=_("All")
    )
    reward = BilingualChoiceField(
        label=_("Reward"), required=False, queryset=Reward.objects.order_by("code"), empty_label=_("All")
    )
    member_no = forms.CharField(label=_("Member number"), required=False, max_length=20)

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "status": data.get("status") or WAITING,
            "store": data.get("store"),
            "reward": data.get("reward"),
            "member_no": (data.get("member_no") or "").strip(),
        }


class FulfilForm(forms.Form):
    carrier = forms.CharField(label=_("Carrier"), max_length=40, required=False)
    tracking_no = forms.CharField(label=_("Tracking number"), max_length=60, required=False)
    reference = forms.CharField(
        label=_("Reference"),
        max_length=100,
        required=False,
        help_text=_("For stored value: the wallet's credit reference."),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class RedeemForm(forms.Form):
    """How many, and how the member gets it: picked up in a store or delivered."""

    quantity = forms.IntegerField(label=_("Quantity"), initial=1, min_value=-INT_MAX, max_value=INT_MAX)
    fulfilment = forms.ChoiceField(label=_("Fulfilment"), required=False)
    pickup_store = StoreChoiceField(label=_("Pick-up store"), required=False, queryset=Store.objects.none())
    address_name = forms.CharField(label=_("Recipient"), max_length=100, required=False)
    address_phone = forms.CharField(label=_("Recipient's phone"), max_length=30, required=False)
    address_address = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_postcode = forms.CharField(label=_("Postcode"), max_length=12, required=False)

    def __init__(self, *args: Any, reward: Reward, own_store: Store | None, cashier: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reward = reward
        if reward.fulfilment == Fulfilment.DIGITAL:
            for name in ("fulfilment", "pickup_store", *self.address_fields()):
                del self.fields[name]
            return
        labels = dict(Fulfilment.choices)
        allowed = (
            [Fulfilment.PICKUP, Fulfilment.DELIVERY] if reward.fulfilment == Fulfilment.EITHER else [reward.fulfilment]
        )
        field = self.fields["fulfilment"]
        field.choices = [(value, labels[value]) for value in allowed]  # type: ignore[attr-defined]
        field.initial = allowed[0]
        stores = self.fields["pickup_store"]
        if cashier:  # a cashier hands the gift over in their own store
            stores.queryset = Store.objects.filter(pk=own_store.pk) if own_store else Store.objects.none()  # type: ignore[attr-defined]
        else:
            stores.queryset = Store.objects.filter(is_active=True).order_by("code")  # type: ignore[attr-defined]
        stores.initial = own_store
        if Fulfilment.DELIVERY not in allowed:
            for name in self.address_fields():
                del self.fields[name]
        if Fulfilment.PICKUP not in allowed:
            del self.fields["pickup_store"]

    @staticmethod
    def address_fields() -> tuple[str, ...]:
        return ("address_name", "address_phone", "address_address", "address_postcode")

    def order_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        address = {
            name.removeprefix("address_"): data[name].strip() for name in self.address_fields() if data.get(name)
        }
        return {
            "quantity": data["quantity"],
            "fulfilment": data.get("fulfilment") or "",
            "pickup_store": data.get("pickup_store"),
            "address": address,
        }


# =========================================================================== coupon batches


class BatchForm(forms.Form):
    """Every field of a coupon batch the services take (`BATCH_FIELDS`), and its stores."""

    code = forms.SlugField(label=_label(CouponBatch, "code"), max_length=40)
    name = forms.CharField(label=_label(CouponBatch, "name"), max_length=100)
    name_en = forms.CharField(label=_label(CouponBatch, "name_en"), max_length=100, required=False)
    description = forms.CharField(label=_label(CouponBatch, "description"), max_length=300, required=False)
    kind = forms.ChoiceField(label=_label(CouponBatch, "kind"), choices=CouponKind.choices)
    amount_off = _money(_label(CouponBatch, "amount_off"))
    percent_off = _count(_label(CouponBatch, "percent_off"), small=True)
    max_discount = _money(_label(CouponBatch, "max_discount"))
    gift_sku = forms.CharField(label=_label(CouponBatch, "gift_sku"), max_length=64, required=False)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="CNY")
    min_spend = _money(_label(CouponBatch, "min_spend"), initial=Decimal("0"))
    categories = CodeListField(
        label=_label(CouponBatch, "categories"),
        max_length=500,
        help_text=_("Product categories it applies to, separated by commas; blank: the whole basket."),
    )
    valid_from = LocalDateTimeField(label=_label(CouponBatch, "valid_from"), required=False)
    valid_until = LocalDateTimeField(label=_label(CouponBatch, "valid_until"), required=False)
    valid_days = _count(_label(CouponBatch, "valid_days"))
    code_mode = forms.ChoiceField(label=_label(CouponBatch, "code_mode"), choices=CodeMode.choices)
    shared_code = forms.CharField(label=_label(CouponBatch, "shared_code"), max_length=40, required=False)
    usage_limit = _count(_label(CouponBatch, "usage_limit"))
    per_member_limit = _count(_label(CouponBatch, "per_member_limit"), required=True, initial=1)
    total_limit = _count(_label(CouponBatch, "total_limit"))
    stacking = forms.ChoiceField(label=_label(CouponBatch, "stacking"), choices=Stacking.choices)
    max_per_order = _count(_label(CouponBatch, "max_per_order"), small=True, initial=1)
    claimable = forms.BooleanField(label=_label(CouponBatch, "claimable"), required=False)
    restore_on_refund = forms.BooleanField(label=_label(CouponBatch, "restore_on_refund"), required=False, initial=True)
    unredeem_hours = _count(_label(CouponBatch, "unredeem_hours"), initial=24)
    is_active = forms.BooleanField(label=_label(CouponBatch, "is_active"), required=False, initial=True)
    stores = StoresField(label=_label(CouponBatch, "stores"), help_text=_("None ticked: every store."))

    def __init__(self, *args: Any, batch: CouponBatch | None = None, **kwargs: Any) -> None:

        self.batch = batch
        self.service_fields = list(services.BATCH_FIELDS)
        if batch is not None:
            initial = {name: getattr(batch, name) for name in self.service_fields}
            initial["stores"] = list(batch.stores.all())
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        if batch is not None:
            del self.fields["code"]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        names = self.service_fields
        if self.batch is not None:
            names = [n for n in names if n in self.changed_data]
        out: dict[str, Any] = {}
        for name in names:
            value = data[name]
            if name == "min_spend":
                value = value if value is not None else Decimal("0")
            elif name in ("max_per_order", "unredeem_hours"):
                value = value if value is not None else self.fields[name].initial
            elif name in ("gift_sku", "description"):
                value = value.strip()
            elif name == "shared_code":
                value = value.strip() or None
            elif name == "currency":
                value = (value or "CNY").upper()
            out[name] = value
        return out

    def chosen_stores(self) -> list[Store] | None:
        if self.batch is not None and "stores" not in self.changed_data:
            return None
        return list(self.cleaned_data["stores"])


class GenerateForm(forms.Form):
    count = forms.IntegerField(
        label=_("How many codes"),
        min_value=1,
        max_value=GENERATE_MAX,
        help_text=_("Up to 10,000 are made at once; more are made in the background."),
    )


class IssueForm(forms.Form):
    member_no = forms.CharField(label=_("Member number"), max_length=20)


GROUPS = [("tag", _("Members with a tag")), ("tier", _("Members of a tier")), ("list", _("A list of member numbers"))]


class IssueGroupForm(forms.Form):
    """A group of members to give one coupon each: by tag, by tier, or pasted member numbers."""

    group = forms.ChoiceField(label=_("Who"), choices=GROUPS, widget=forms.RadioSelect, initial="list")
    tag = forms.ModelChoiceField(
        label=_("Tag"), required=False, queryset=Tag.objects.order_by("name"), to_field_name="name"
    )
    tier = forms.ChoiceField(label=_("Tier"), required=False)
    member_nos = CodeListField(
        spaces=True,
        label=_("Member numbers"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono", "spellcheck": "false"}),
        help_text=_("Separated by lines, spaces or commas."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "—"), *tier_choices()]  # type: ignore[attr-defined]
        self.unknown: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        group = data.get("group")
        if group == "tag" and not data.get("tag"):
            self.add_error("tag", _("Choose a tag."))
        if group == "tier" and not data.get("tier"):
            self.add_error("tier", _("Choose a tier."))
        if group == "list" and not data.get("member_nos"):
            self.add_error("member_nos", _("Paste at least one member number."))
        return data

    def member_ids(self) -> list[int]:
        """Who is in the group, in member order; pasted numbers no member has are kept in `unknown`."""
        from patron.members import queries as member_queries

        data = self.cleaned_data
        live = Member.objects.filter(status__in=LIVE_STATUSES)
        if data["group"] == "tag":
            chosen = member_queries.with_tag(live, data["tag"].name)
        elif data["group"] == "tier":
            chosen = tier_queries.members_at(data["tier"], live)
        else:
            wanted = data["member_nos"]
            found = dict(Member.objects.filter(member_no__in=wanted).values_list("member_no", "pk"))
            self.unknown = [no for no in wanted if no not in found]
            return sorted(found.values())
        return list(chosen.order_by("pk").values_list("pk", flat=True))


class MemberIssueForm(forms.Form):
    batch = BilingualChoiceField(label=_("Coupon batch"), queryset=CouponBatch.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["batch"].queryset = CouponBatch.objects.filter(is_active=True).order_by("code")  # type: ignore[attr-defined]


class LookupForm(forms.Form):
    code = forms.CharField(label=_("Coupon code"), max_length=60)

    def clean_code(self) -> str:
        code = codes.normalize(self.cleaned_data["code"])
        if not code:
            raise forms.ValidationError(_("Type a code of letters and digits."), code="empty")
        return code


# =========================================================================== badges


RULE_KIND_LABELS = {
    "first_purchase": _("A first purchase"),
    "purchases": _("A number of purchases"),
    "spend": _("Spend in all (net of refunds)"),
    "checkin_streak": _("Days of check-in in a row"),
    "activity_count": _("An activity a number of times"),
    "tier_reached": _("Reaching a tier"),
}
# The fields each kind of rule reads from the form.
RULE_PARAMS: dict[str, tuple[str, ...]] = {
    "first_purchase": (),
    "purchases": ("count",),
    "spend": ("amount",),
    "checkin_streak": ("days",),
    "activity_count": ("activity", "count"),
    "tier_reached": ("tier",),
}


class BadgeForm(forms.Form):
    code = forms.SlugField(label=_label(Badge, "code"), max_length=40)
    name = forms.CharField(label=_label(Badge, "name"), max_length=60)
    name_en = forms.CharField(label=_label(Badge, "name_en"), max_length=60, required=False)
    description = forms.CharField(label=_label(Badge, "description"), max_length=200, required=False)
    description_en = forms.CharField(label=_label(Badge, "description_en"), max_length=200, required=False)
    icon = forms.CharField(label=_label(Badge, "icon"), max_length=8, initial="🏅")
    color = forms.RegexField(
        label=_label(Badge, "color"),
        regex=r"^#[0-9a-fA-F]{6}$",
        initial="#c9a227",
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": _("A colour like #c9a227.")},
    )
    is_active = forms.BooleanField(label=_label(Badge, "is_active"), required=False, initial=True)
    position = _count(_("Position"), small=True, initial=0)
    rule_kind = forms.ChoiceField(
        label=_("Earned by"), choices=[(k, RULE_KIND_LABELS[k]) for k in badge_rules.RULE_KINDS]
    )
    count = _count(_("How many times"))
    amount = _money(_("Amount"))
    days = _count(_("Days in a row"))
    activity = forms.CharField(label=_("Activity"), max_length=40, required=False)
    tier = forms.ChoiceField(label=_("Tier"), required=False)

    def __init__(self, *args: Any, badge: Badge | None = None, **kwargs: Any) -> None:
        self.badge = badge
        if badge is not None:
            initial: dict[str, Any] = {name: getattr(badge, name) for name in self.badge_fields()}
            rule = dict(badge.rule or {})
            initial["rule_kind"] = rule.pop("kind", "")
            initial.update(rule)
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        keep = [str(badge.rule.get("tier"))] if badge is not None and badge.rule.get("tier") else []
        self.fields["tier"].choices = [("", "—"), *tier_choices(keep)]  # type: ignore[attr-defined]
        if badge is not None:
            del self.fields["code"]

    @staticmethod
    def badge_fields() -> list[str]:

        return list(services.BADGE_FIELDS)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in RULE_PARAMS.get(data.get("rule_kind", ""), ()):
            if data.get(name) in (None, ""):
                self.add_error(name, _("This kind of badge needs it."))
        return data

    def rule(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["rule_kind"]
        rule: dict[str, Any] = {"kind": kind}
        for name in RULE_PARAMS.get(kind, ()):
            value = data[name]
            rule[name] = str(value.quantize(Decimal("0.01"))) if isinstance(value, Decimal) else value
        return rule

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        out = {name: data[name] for name in self.badge_fields()}
        out["position"] = out["position"] or 0
        return out


# =========================================================================== downloads


class ExportForm(forms.Form):
    table = forms.CharField(max_length=20)
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "Excel")], required=False)
