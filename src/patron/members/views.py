"""Console pages of the member registry: list, 360 page, forms, applications, sales, stores, staff, fields.

Views stay thin: parse a form, call one service, then render or redirect. A service's refusal
(`DomainError`) goes back onto the form; it is never a server error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.core import clock, i18n
from patron.core.errors import DomainError
from patron.core.forms import show_domain_error
from patron.core.permissions import ROLE_LABELS, Perm, Role, has_perm, require_perm, role_of
from patron.core.views import form_page, is_htmx, page_number, query_without_page
from patron.members import forms, queries, services
from patron.members.models import (
    AttributeDefinition,
    ConsentPurpose,
    EntryRoute,
    JoinChannel,
    Member,
    MemberMerge,
    MemberStatus,
    StaffProfile,
    Store,
    TimelineEntry,
    Transaction,
    TransactionKind,
)
from patron.members.phones import mask_phone, national_digits

CONSOLE = "console"


def _member(pk: int) -> Member:
    return get_object_or_404(Member.objects.select_related("store", "merged_into"), pk=pk)


# --------------------------------------------------------------------------- timeline sentences


def _label(choices: Any, value: Any) -> str:
    return str(dict(choices).get(value, value or ""))


def _field_names(names: list[str]) -> str:
    labels = []
    for name in names:
        try:
            labels.append(str(getattr(Member._meta.get_field(name), "verbose_name", name)))
        except FieldDoesNotExist:  # a field that no longer exists: show its name
            labels.append(name)
    return ", ".join(labels)


def _money(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": data.get("amount", ""), "currency": data.get("currency", "")}


def _sentence_joined(d: dict[str, Any]) -> str:
    return _("Joined via %(channel)s (%(route)s); status %(status)s.") % {
        "channel": _label(JoinChannel.choices, d.get("channel")),
        "route": _label(EntryRoute.choices, d.get("route")),
        "status": _label(MemberStatus.choices, d.get("status")),
    }


def _sentence_status(d: dict[str, Any]) -> str:
    return _("Status changed from %(old)s to %(new)s. Reason: %(reason)s") % {
        "old": _label(MemberStatus.choices, d.get("old")),
        "new": _label(MemberStatus.choices, d.get("new")),
        "reason": d.get("reason", ""),
    }


def _sentence_consent(d: dict[str, Any]) -> str:
    values = {"purpose": _label(ConsentPurpose.choices, d.get("purpose")), "source": d.get("source", "")}
    if d.get("granted"):
        return _("Consent to %(purpose)s granted (via %(source)s).") % values
    return _("Consent to %(purpose)s withdrawn (via %(source)s).") % values


def _sentence_sale(d: dict[str, Any]) -> str:
    return _("Purchase of %(amount)s %(currency)s at store %(store)s, receipt %(receipt)s.") % {
        **_money(d),
        "store": d.get("store", ""),
        "receipt": d.get("external_id", ""),
    }


def _sentence_refund(d: dict[str, Any]) -> str:
    return _("Refund of %(amount)s %(currency)s at store %(store)s, receipt %(receipt)s.") % {
        **_money(d),
        "store": d.get("store", ""),
        "receipt": d.get("external_id", ""),
    }


TIMELINE_SENTENCES: dict[str, Any] = {
    "joined": _sentence_joined,
    "profile_changed": lambda d: _("Profile changed: %(fields)s.") % {"fields": _field_names(d.get("fields", []))},
    "status_changed": _sentence_status,
    "consent": _sentence_consent,
    "tagged": lambda d: _("Tagged “%(tag)s”.") % {"tag": d.get("tag", "")},
    "untagged": lambda d: _("Tag “%(tag)s” removed.") % {"tag": d.get("tag", "")},
    "attributes_changed": lambda d: _("Extended profile changed: %(keys)s.") % {"keys": ", ".join(d.get("keys", []))},
    "sale": _sentence_sale,
    "refund": _sentence_refund,
    "fee_paid": lambda d: _("Membership fee of %(amount)s %(currency)s paid.") % _money(d),
    "merged": lambda d: _("Member %(no)s was merged into this one.") % {"no": d.get("absorbed", "")},
    "merge_undone": lambda d: _("Merge of member %(no)s was undone.") % {"no": d.get("absorbed", "")},
}


def timeline_sentence(entry: TimelineEntry) -> str:
    """A timeline row as a sentence in the active language, built from its kind and data."""
    describe = TIMELINE_SENTENCES.get(entry.kind) or queries.registered_timeline_sentence(entry.kind)
    if describe is None:
        return entry.kind
    return describe(entry.data or {})


# --------------------------------------------------------------------------- list


def _export_url(request: HttpRequest) -> str:
    try:
        url = reverse("members:export")
    except NoReverseMatch:  # the export pages are not installed
        return ""
    if not has_perm(request.user, Perm.MEMBERS_EXPORT):
        return ""
    query = query_without_page(request)
    return f"{url}?{query}" if query else url


@require_perm(Perm.MEMBERS_VIEW)
def member_list(request: HttpRequest) -> HttpResponse:
    form = forms.MemberFilterForm(request.GET or None)
    page = queries.list_members(form.to_filter(), page_number(request))
    context = {
        "form": form,
        "page": page,
        "rows": [(m, mask_phone(m.phone)) for m in page.items],
        "query": query_without_page(request),
        "export_url": _export_url(request),
        "can_create": has_perm(request.user, Perm.MEMBERS_CREATE),
    }
    return render(request, "members/list.html", context)


# --------------------------------------------------------------------------- the member page


def _permissions(user: Any) -> dict[str, bool]:
    names = {
        "reveal": Perm.MEMBERS_REVEAL,
        "status": Perm.MEMBERS_STATUS,
        "erase": Perm.MEMBERS_ERASE,
        "tag": Perm.MEMBERS_TAG,
        "edit": Perm.MEMBERS_EDIT,
        "consent": Perm.MEMBERS_CONSENT,
        "merge": Perm.MEMBERS_MERGE,
        "unmerge": Perm.MEMBERS_UNMERGE,
        "view_transactions": Perm.TRANSACTIONS_VIEW,
        "record_sale": Perm.TRANSACTIONS_RECORD,
    }
    return {key: has_perm(user, perm) for key, perm in names.items()}


def _merge_rows(merges: list[MemberMerge]) -> list[dict[str, Any]]:
    window = dt.timedelta(days=settings.PATRON["MERGE_UNDO_DAYS"])
    now = clock.now()
    return [
        {"merge": m, "undoable": m.undone_at is None and now - m.merged_at <= window, "until": m.merged_at + window}
        for m in merges
    ]


def _consent_rows(current: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [(p.value, str(p.label), current.get(p.value)) for p in ConsentPurpose]


def _attribute_rows(view: queries.Member360) -> list[tuple[str, Any]]:
    english = i18n.english()
    rows = []
    for attribute in view.attributes:
        d = attribute.definition
        rows.append((d.label_en if english and d.label_en else d.label, attribute.value))
    return rows


def _refunds_by_sale(transactions: list[Transaction]) -> dict[int, list[Transaction]]:
    out: dict[int, list[Transaction]] = {}
    for txn in transactions:
        if txn.kind == TransactionKind.REFUND and txn.original_id:
            out.setdefault(txn.original_id, []).append(txn)
    return out


TRANSACTION_KINDS = {"sale", "refund"}


def _timeline_rows(entries: list[TimelineEntry], with_transactions: bool) -> list[tuple[TimelineEntry, str]]:
    shown = [e for e in entries if with_transactions or e.kind not in TRANSACTION_KINDS]
    return [(entry, timeline_sentence(entry)) for entry in shown]


def _detail_context(request: HttpRequest, member: Member, **overrides: Any) -> dict[str, Any]:
    view = queries.member_360(member)
    current_attributes = {a.definition.key: a.value for a in view.attributes}
    can = _permissions(request.user)
    context = {
        "m": member,
        "v": view,
        "can": can,
        "timeline": _timeline_rows(view.timeline, can["view_transactions"]),
        "merges": _merge_rows(view.merges),
        "consents": _consent_rows(view.consents),
        "attribute_rows": _attribute_rows(view),
        "refunds": _refunds_by_sale(view.transactions),
        "has_attribute_definitions": AttributeDefinition.objects.filter(is_active=True).exists(),
        "reveal_form": forms.ReasonForm(),
        "status_form": forms.StatusForm(),
        "tag_form": forms.TagForm(),
        "consent_form": forms.ConsentForm(),
        "attributes_form": forms.AttributesForm(current=current_attributes),
        "undo_form": forms.ReasonForm(),
        "erase_form": forms.ReasonForm(prefix="erase"),
        "phone_full": "",
    }
    context.update(overrides)
    return context


def _render_detail(request: HttpRequest, member: Member, status: int = 200, **overrides: Any) -> HttpResponse:
    return render(request, "members/detail.html", _detail_context(request, member, **overrides), status=status)


@require_perm(Perm.MEMBERS_VIEW)
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _member(pk))


@require_perm(Perm.MEMBERS_REVEAL)
@require_POST
def reveal_phone(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = forms.ReasonForm(request.POST)
    full = ""
    if form.is_valid():
        try:
            full = national_digits(services.do_reveal_phone(member=member, reason=form.cleaned_data["reason"]))
        except DomainError as exc:
            show_domain_error(form, exc)
    context = {"m": member, "v": {"phone_masked": mask_phone(member.phone)}, "can": {"reveal": True}}
    if is_htmx(request):  # htmx swaps only 2xx answers: the refusal comes back as a 200 fragment
        return render(request, "members/_phone.html", {**context, "reveal_form": form, "phone_full": full})
    status = 200 if full else 422
    return _render_detail(request, member, status=status, reveal_form=form, phone_full=full)


def _member_action(
    request: HttpRequest, member: Member, form: Any, form_key: str, act: Callable[[dict[str, Any]], None], done: str
) -> HttpResponse:
    """The member page's one pattern: a valid POST runs one service and goes back to the page with
    a note; a refusal re-renders the page with the errors on the form that was sent."""
    if form.is_valid():
        try:
            act(form.cleaned_data)
            messages.success(request, done)
            return redirect("members:detail", pk=member.pk)
        except DomainError as exc:
            show_domain_error(form, exc)
    return _render_detail(request, member, status=422, **{form_key: form})


@require_perm(Perm.MEMBERS_STATUS)
@require_POST
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = forms.StatusForm(request.POST)

    def act(data: dict[str, Any]) -> None:
        services.do_change_status(member=member, **data)

    return _member_action(request, member, form, "status_form", act, _("Status changed."))


@require_perm(Perm.MEMBERS_ERASE)
@require_POST
def erase_member(request: HttpRequest, pk: int) -> HttpResponse:
    """Erase the member's personal data at their request; the service keeps the facts."""
    member = _member(pk)
    form = forms.ReasonForm(request.POST, prefix="erase")

    def act(data: dict[str, Any]) -> None:
        services.do_erase_member(member=member, reason=data["reason"])

    return _member_action(request, member, form, "erase_form", act, _("Personal data erased."))


@require_perm(Perm.MEMBERS_TAG)
@require_POST
def add_tag(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = forms.TagForm(request.POST)

    def act(data: dict[str, Any]) -> None:
        services.do_tag_member(member=member, tag_name=data["tag"], source="agent")

    return _member_action(request, member, form, "tag_form", act, _("Tag added."))


@require_perm(Perm.MEMBERS_TAG)
@require_POST
def remove_tag(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    services.do_untag_member(member=member, tag_name=request.POST.get("tag", ""))
    messages.success(request, _("Tag removed."))
    return redirect("members:detail", pk=pk)


@require_perm(Perm.MEMBERS_EDIT)
@require_POST
def edit_attributes(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    current = {a.definition.key: a.value for a in member.attributes.select_related("definition")}
    form = forms.AttributesForm(request.POST, current=current)

    def act(data: dict[str, Any]) -> None:
        services.do_set_attributes(member=member, values=form.changed_values(), source="console")

    return _member_action(request, member, form, "attributes_form", act, _("Extended profile saved."))


@require_perm(Perm.MEMBERS_CONSENT)
@require_POST
def record_consent(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = forms.ConsentForm(request.POST)

    def act(data: dict[str, Any]) -> None:
        services.do_record_consent(member=member, source=CONSOLE, **data)

    return _member_action(request, member, form, "consent_form", act, _("Consent recorded."))


# --------------------------------------------------------------------------- create and edit


def _promoter(user: Any) -> Any:
    return user if role_of(user) == Role.PROMOTER else None


def _new_member(form: forms.MemberCreateForm, user: Any) -> services.NewMember:
    data = form.cleaned_data
    return services.NewMember(
        name=data["name"],
        phone=data["phone"],
        email=data["email"],
        gender=data["gender"],
        birthday=data["birthday"],
        city=data["city"],
        language=data["language"],
        time_zone=data.get("time_zone") or "",
        store=data["store"],
        join_channel=data["join_channel"],
        card_no=data["card_no"] or None,
        promoter=_promoter(user),
        consents=form.consents(),
        notice_version=forms.NOTICE_VERSION,
        consent_source=CONSOLE,
    )


@require_perm(Perm.MEMBERS_CREATE)
def member_create(request: HttpRequest) -> HttpResponse:
    form = forms.MemberCreateForm(request.POST or None, initial={"store": queries.staff_store(request.user)})
    if request.method == "POST" and form.is_valid():
        try:
            member = services.do_create_member(data=_new_member(form, request.user))
            messages.success(request, _("Member %(no)s created.") % {"no": member.member_no})
            return redirect("members:detail", pk=member.pk)
        except DomainError as exc:
            show_domain_error(form, exc)
    status = 422 if form.errors else 200
    context = {"form": form, "creating": True, "purposes": forms.CONSENT_PURPOSES_EXPLAINED}
    return render(request, "members/form.html", context, status=status)


@require_perm(Perm.MEMBERS_EDIT)
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = forms.MemberEditForm(request.POST or None, member=member, masked_phone=mask_phone(member.phone))
    if request.method == "POST" and form.is_valid():
        try:
            services.do_update_member(member=member, changes=form.changes())
            messages.success(request, _("Profile saved."))
            return redirect("members:detail", pk=pk)
        except DomainError as exc:
            show_domain_error(form, exc)
    status = 422 if form.errors else 200
    return render(request, "members/form.html", {"form": form, "m": member, "creating": False}, status=status)


# --------------------------------------------------------------------------- merge


@require_perm(Perm.MEMBERS_MERGE)
def member_merge(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = forms.MergeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            absorbed = queries.get_member_by_no(form.cleaned_data["member_no"].strip())
            services.do_merge_members(survivor=member, absorbed=absorbed, reason=form.cleaned_data["reason"])
            messages.success(request, _("Member %(no)s merged into this one.") % {"no": absorbed.member_no})
            return redirect("members:detail", pk=pk)
        except DomainError as exc:
            show_domain_error(form, exc)
    context = {"form": form, "m": member, "masked": mask_phone(member.phone)}
    return render(request, "members/merge.html", context, status=422 if form.errors else 200)


@require_perm(Perm.MEMBERS_UNMERGE)
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    merge = get_object_or_404(MemberMerge.objects.select_related("survivor", "absorbed"), pk=pk)
    form = forms.ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.do_undo_merge(merge=merge, reason=form.cleaned_data["reason"])
            messages.success(request, _("Merge undone; member %(no)s is back.") % {"no": merge.absorbed.member_no})
            return redirect("members:detail", pk=merge.survivor_id)
        except DomainError as exc:
            show_domain_error(form, exc)
    return _render_detail(request, merge.survivor, status=422, undo_form=form, undo_merge_id=merge.pk)


# --------------------------------------------------------------------------- applications


def _render_applications(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    rows = list(queries.pending_applications().select_related("store")[:200])
    context = {"rows": [(m, mask_phone(m.phone)) for m in rows], "reject_errors": {}, **extra}
    return render(request, "members/applications.html", context, status=status)


@require_perm(Perm.MEMBERS_APPROVE)
def applications(request: HttpRequest) -> HttpResponse:
    return _render_applications(request)


@require_perm(Perm.MEMBERS_APPROVE)
@require_POST
def application_approve(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    try:
        services.do_approve_application(member=member, note=request.POST.get("note", "").strip())
    except DomainError as exc:
        return _render_applications(request, status=422, reject_errors={member.pk: exc.message})
    messages.success(request, _("%(name)s is now a member.") % {"name": member.name})
    return redirect("members:applications")


@require_perm(Perm.MEMBERS_APPROVE)
@require_POST
def application_reject(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    try:
        services.do_reject_application(member=member, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _render_applications(request, status=422, reject_errors={member.pk: exc.message})
    messages.success(request, _("Application of %(name)s rejected.") % {"name": member.name})
    return redirect("members:applications")


# --------------------------------------------------------------------------- sales and refunds


def _sale_form(request: HttpRequest) -> forms.SaleForm:
    own = queries.staff_store(request.user)
    cashier = role_of(request.user) == Role.CASHIER
    return forms.SaleForm(request.POST or None, own_store=own, cashier=cashier)


def _sale_input(form: forms.SaleForm, member: Member) -> services.SaleInput:
    data = form.cleaned_data
    return services.SaleInput(
        store=data["store"],
        member=member,
        external_id=data["external_id"],
        occurred_at=data["occurred_at"],
        amount=data["amount"],
        currency=data["currency"].strip().upper(),
        channel=data["channel"],
        source=CONSOLE,
    )


@require_perm(Perm.TRANSACTIONS_RECORD)
def record_sale(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = _sale_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            services.check_store_allowed(request.user, form.cleaned_data["store"])
            _txn, created = services.do_record_sale(data=_sale_input(form, member))
            messages.success(request, _("Sale recorded.") if created else _("This sale was already recorded."))
            return redirect("members:detail", pk=pk)
        except DomainError as exc:
            show_domain_error(form, exc)
    context = {"form": form, "m": member}
    return render(request, "members/sale.html", context, status=422 if form.errors else 200)


@require_perm(Perm.TRANSACTIONS_RECORD)
def record_refund(request: HttpRequest, pk: int) -> HttpResponse:
    sale = get_object_or_404(Transaction.objects.select_related("member", "store"), pk=pk, kind=TransactionKind.SALE)
    form = forms.RefundForm(request.POST or None, initial={"amount": sale.amount - services.refunded_so_far(sale)})
    if request.method == "POST" and form.is_valid():
        try:
            services.check_store_allowed(request.user, sale.store)
            services.do_record_refund(original=sale, occurred_at=clock.now(), source=CONSOLE, **form.cleaned_data)
            messages.success(request, _("Refund recorded."))
            return redirect("members:detail", pk=sale.member_id)
        except DomainError as exc:
            show_domain_error(form, exc)
    context = {"form": form, "sale": sale, "m": sale.member, "left": sale.amount - services.refunded_so_far(sale)}
    return render(request, "members/refund.html", context, status=422 if form.errors else 200)


# --------------------------------------------------------------------------- stores


def _simple_form(
    request: HttpRequest, form: Any, title: Any, save: Callable[[dict[str, Any]], str], done: str
) -> HttpResponse:
    """The settings pages' one pattern: a valid POST calls one service (which returns the success
    note) and goes back to the list; a refusal shows on the form."""

    def run() -> str:
        messages.success(request, save(form.cleaned_data))
        return done

    return form_page(request, form, run, "members/simple_form.html", title=title)


@require_perm(Perm.STORES_MANAGE)
def store_list(request: HttpRequest) -> HttpResponse:
    return render(request, "members/store_list.html", {"stores": Store.objects.order_by("code")})


@require_perm(Perm.STORES_MANAGE)
def store_create(request: HttpRequest) -> HttpResponse:
    def save(data: dict[str, Any]) -> str:
        return _("Store %(code)s created.") % {"code": services.do_create_store(**data).code}

    return _simple_form(request, forms.StoreForm(request.POST or None), _("New store"), save, "members:store_list")


@require_perm(Perm.STORES_MANAGE)
def store_edit(request: HttpRequest, pk: int) -> HttpResponse:
    store = get_object_or_404(Store, pk=pk)
    initial = {f: getattr(store, f) for f in ["name", "name_en", "city", "region", "address", "is_active"]}

    def save(data: dict[str, Any]) -> str:
        services.do_update_store(store=store, **data)
        return _("Store %(code)s saved.") % {"code": store.code}

    form = forms.StoreEditForm(request.POST or None, initial=initial)
    return _simple_form(request, form, _("Store %(code)s") % {"code": store.code}, save, "members:store_list")


# --------------------------------------------------------------------------- staff


def _role_label(user: Any) -> str:
    role = role_of(user)
    return str(ROLE_LABELS[role]) if role is not None else str(user.role)


def _staff_rows() -> list[dict[str, Any]]:
    stores = {p.user_id: p.store for p in StaffProfile.objects.select_related("store")}
    users = get_user_model().objects.order_by("username")
    return [{"user": u, "role": _role_label(u), "store": stores.get(u.pk)} for u in users]


@require_perm(Perm.STAFF_MANAGE)
def staff_list(request: HttpRequest) -> HttpResponse:
    return render(request, "members/staff_list.html", {"rows": _staff_rows()})


@require_perm(Perm.STAFF_MANAGE)
def staff_create(request: HttpRequest) -> HttpResponse:
    def save(data: dict[str, Any]) -> str:
        return _("Account %(u)s created.") % {"u": services.do_create_staff(**data).username}

    form = forms.StaffCreateForm(request.POST or None)
    return _simple_form(request, form, _("New staff account"), save, "members:staff_list")


@require_perm(Perm.STAFF_MANAGE)
def staff_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=pk)
    initial = {
        "display_name": user.display_name,
        "role": user.role,
        "store": queries.staff_store(user),
        "is_active": user.is_active,
    }

    def save(data: dict[str, Any]) -> str:
        services.do_update_staff(user=user, **data)
        return _("Account %(u)s saved.") % {"u": user.username}

    form = forms.StaffEditForm(request.POST or None, initial=initial)
    title = _("Staff account %(u)s") % {"u": user.username}
    return _simple_form(request, form, title, save, "members:staff_list")


# --------------------------------------------------------------------------- extended-profile attributes


@require_perm(Perm.SETTINGS_MANAGE)
def attribute_list(request: HttpRequest) -> HttpResponse:
    form = forms.AttributeDefinitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            definition = services.do_define_attribute(**form.cleaned_data)
            messages.success(request, _("Profile field %(key)s saved.") % {"key": definition.key})
            return redirect("members:attribute_list")
        except DomainError as exc:
            show_domain_error(form, exc)
    context = {"form": form, "definitions": AttributeDefinition.objects.order_by("key")}
    return render(request, "members/attribute_list.html", context, status=422 if form.errors else 200)


urlpatterns: list[URLPattern] = [
    path("members/", member_list, name="list"),
    path("members/new/", member_create, name="create"),
    path("members/<int:pk>/", member_detail, name="detail"),
    path("members/<int:pk>/edit/", member_edit, name="edit"),
    path("members/<int:pk>/reveal-phone/", reveal_phone, name="reveal_phone"),
    path("members/<int:pk>/status/", change_status, name="change_status"),
    path("members/<int:pk>/erase/", erase_member, name="erase"),
    path("members/<int:pk>/tags/", add_tag, name="add_tag"),
    path("members/<int:pk>/tags/remove/", remove_tag, name="remove_tag"),
    path("members/<int:pk>/attributes/", edit_attributes, name="edit_attributes"),
    path("members/<int:pk>/consents/", record_consent, name="record_consent"),
    path("members/<int:pk>/merge/", member_merge, name="merge"),
    path("members/<int:pk>/sale/", record_sale, name="record_sale"),
    path("merges/<int:pk>/undo/", merge_undo, name="merge_undo"),
    path("transactions/<int:pk>/refund/", record_refund, name="refund"),
    path("applications/", applications, name="applications"),
    path("applications/<int:pk>/approve/", application_approve, name="application_approve"),
    path("applications/<int:pk>/reject/", application_reject, name="application_reject"),
    path("stores/", store_list, name="store_list"),
    path("stores/new/", store_create, name="store_create"),
    path("stores/<int:pk>/edit/", store_edit, name="store_edit"),
    path("staff/", staff_list, name="staff_list"),
    path("staff/new/", staff_create, name="staff_create"),
    path("staff/<int:pk>/edit/", staff_edit, name="staff_edit"),
    path("attributes/", attribute_list, name="attribute_list"),
]
