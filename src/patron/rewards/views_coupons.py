"""Console pages of coupons: batches (list, new, edit, detail), generating and exporting codes,
issuing to a member or a group, voiding a coupon, and the lookup by code. See `views.py` for what
the pages share."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from patron.core.audit import record_audit
from patron.core.errors import DomainError, NotFound
from patron.core.permissions import Perm, has_perm, require_perm
from patron.core.views import file_response, form_page, page_number, query_without_page, safe_next
from patron.members import queries as member_queries
from patron.members.models import Member
from patron.members.queries import paginate
from patron.rewards import codes, exports, forms, reports, services, tasks
from patron.rewards.models import CodeMode, Coupon, CouponBatch, CouponRedemption, CouponStatus
from patron.rewards.views import LIST_PAGE, holder, member_url

VIEW = Perm.COUPONS_VIEW
MANAGE = Perm.COUPONS_MANAGE
ISSUE = Perm.COUPONS_ISSUE
EXPORT = Perm.COUPONS_EXPORT
RECENT_COUPONS = 50
LOOKUP_USES = 50


def _batch(pk: int) -> CouponBatch:
    return get_object_or_404(CouponBatch, pk=pk)


# --------------------------------------------------------------------------- batches


@require_perm(VIEW)
def batch_list(request: HttpRequest) -> HttpResponse:
    batches = reports.batches_with_counts().order_by("-created_at", "-id")
    page = paginate(batches, page_number(request), LIST_PAGE)
    context = {"page": page, "query": query_without_page(request), "can_manage": has_perm(request.user, MANAGE)}
    return render(request, "rewards/batch_list.html", context)


@require_perm(MANAGE)
def batch_new(request: HttpRequest) -> HttpResponse:
    form = forms.BatchForm(request.POST or None)

    def save() -> str:
        batch = services.do_create_batch(
            code=form.cleaned_data["code"], stores=form.chosen_stores() or [], **form.values()
        )
        messages.success(request, _("Coupon batch “%(name)s” created.") % {"name": batch.name})
        return reverse("rewards:batch", args=[batch.pk])

    return form_page(
        request,
        form,
        save,
        "rewards/batch_form.html",
        show_error=lambda exc: forms.put_error(form, exc),
        title=_("New coupon batch"),
    )


@require_perm(MANAGE)
def batch_edit(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch(pk)
    form = forms.BatchForm(request.POST or None, batch=batch)

    def save() -> str:
        saved = services.do_update_batch(batch=batch, stores=form.chosen_stores(), **form.values())
        messages.success(request, _("Coupon batch “%(name)s” saved.") % {"name": saved.name})
        return reverse("rewards:batch", args=[saved.pk])

    return form_page(
        request,
        form,
        save,
        "rewards/batch_form.html",
        show_error=lambda exc: forms.put_error(form, exc),
        title=_("Coupon batch “%(name)s”") % {"name": batch.name},
        batch=batch,
    )


def _render_batch(request: HttpRequest, batch: CouponBatch, status: int = 200, **overrides: Any) -> HttpResponse:
    user = request.user
    coupons = Coupon.objects.filter(batch=batch).select_related("member").order_by("-id")[:RECENT_COUPONS]
    unique = batch.code_mode == CodeMode.UNIQUE
    counted = reports.status_counts(batch)
    context: dict[str, Any] = {
        "batch": batch,
        "stores": list(batch.stores.order_by("code")),
        "counts": [(status, label, counted[status]) for status, label in CouponStatus.choices],
        "uses": reports.live_uses().filter(batch=batch).count(),
        "coupons": [(c, codes.display(c.code or batch.shared_code or ""), holder(c.member)) for c in coupons],
        "shared_code": codes.display(batch.shared_code or ""),
        "unique": unique,
        "voidable": (CouponStatus.ISSUED, CouponStatus.AVAILABLE),
        "can": {
            "manage": has_perm(user, MANAGE),
            "generate": unique and has_perm(user, MANAGE),
            "export": unique and has_perm(user, EXPORT),
            "issue": has_perm(user, ISSUE),
        },
        "generate_form": forms.GenerateForm(),
        "issue_form": forms.IssueForm(),
        "group_form": forms.IssueGroupForm(),
        "inline_max": forms.GENERATE_INLINE,
        "group_inline": services.GROUP_INLINE,
        "back": reverse("rewards:batch", args=[batch.pk]),
    }
    context.update(overrides)
    return render(request, "rewards/batch_detail.html", context, status=status)


@require_perm(VIEW)
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_batch(request, _batch(pk))


@require_perm(MANAGE)
@require_POST
def batch_generate(request: HttpRequest, pk: int) -> HttpResponse:
    """Make unissued codes: up to 10,000 while the page waits, more in the background."""
    batch = _batch(pk)
    form = forms.GenerateForm(request.POST)
    if form.is_valid():
        count = form.cleaned_data["count"]
        try:
            services.check_generate(batch, count)
            if count > forms.GENERATE_INLINE:
                transaction.on_commit(lambda: tasks.generate_codes.enqueue(batch.pk, count))
                messages.success(
                    request,
                    _("%(n)s codes are being made in the background; reload to see them.") % {"n": f"{count:,}"},
                )
                return redirect("rewards:batch", pk=batch.pk)
            made = services.do_generate_codes(batch=batch, count=count)
        except DomainError as exc:
            forms.put_error(form, exc)
        else:
            messages.success(request, ngettext("%(n)s code made.", "%(n)s codes made.", made) % {"n": made})
            return redirect("rewards:batch", pk=batch.pk)
    return _render_batch(request, batch, status=422, generate_form=form)


@require_perm(EXPORT)
def batch_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The batch's unissued codes as CSV, streamed; the export leaves an audit row with the count."""
    batch = _batch(pk)
    unused = Coupon.objects.filter(batch=batch, status=CouponStatus.AVAILABLE).order_by("id")
    count = unused.count()
    record_audit("coupons.export", obj=batch, after={"count": count})
    headers = [_("Code"), _("Valid from"), _("Valid until")]
    return file_response(
        exports.CSV, f"coupons-{batch.code}.csv", exports.codes_csv(headers, unused.iterator(chunk_size=5000))
    )


@require_perm(ISSUE)
@require_POST
def batch_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Give one member a coupon of the batch, by their member number."""
    batch = _batch(pk)
    form = forms.IssueForm(request.POST)
    if form.is_valid():
        try:
            member = member_queries.get_member_by_no(form.cleaned_data["member_no"].strip())
            coupon = services.do_issue_coupon(batch=batch, member=member)
        except NotFound as exc:
            form.add_error("member_no", exc.message)
        except DomainError as exc:
            forms.put_error(form, exc)
        else:
            values = {"no": member.member_no, "code": codes.display(coupon.code or batch.shared_code or "")}
            messages.success(request, _("Coupon %(code)s issued to member %(no)s.") % values)
            return redirect("rewards:batch", pk=batch.pk)
    return _render_batch(request, batch, status=422, issue_form=form)


@require_perm(ISSUE)
@require_POST
def batch_issue_group(request: HttpRequest, pk: int) -> HttpResponse:
    """One coupon each to a group: members with a tag, of a tier, or pasted numbers. Up to 200 while
    the page waits; a larger group in the background."""
    batch = _batch(pk)
    form = forms.IssueGroupForm(request.POST)
    if form.is_valid():
        member_ids = form.member_ids()
        if form.unknown:
            shown = ", ".join(form.unknown[:20]) + (" …" if len(form.unknown) > 20 else "")
            messages.warning(request, _("No member has these numbers: %(nos)s") % {"nos": shown})
        if not member_ids:
            form.add_error(None, _("No member is in this group."))
        else:
            messages.success(request, services.do_issue_to_group(batch=batch, member_ids=member_ids).summary())
            return redirect("rewards:batch", pk=batch.pk)
    return _render_batch(request, batch, status=422, group_form=form)


@require_perm(ISSUE)
@require_POST
def coupon_void(request: HttpRequest, pk: int) -> HttpResponse:
    """Void an unused coupon, with a reason."""
    coupon = get_object_or_404(Coupon.objects.select_related("batch"), pk=pk)
    form = forms.ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.do_void_coupon(coupon=coupon, reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Coupon %(code)s voided.") % {"code": codes.display(coupon.code or "")})
    return redirect(safe_next(request, reverse("rewards:batch", args=[coupon.batch_id])))


# --------------------------------------------------------------------------- issuing from the member page


@require_perm(ISSUE)
def member_issue(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(Member, pk=pk)
    form = forms.MemberIssueForm(request.POST or None)

    def save() -> str:
        batch = form.cleaned_data["batch"]
        coupon = services.do_issue_coupon(batch=batch, member=member)
        values = {"code": codes.display(coupon.code or batch.shared_code or ""), "batch": batch.display}
        messages.success(request, _("Coupon %(code)s (%(batch)s) issued.") % values)
        return member_url(member)

    title = _("Issue a coupon to %(name)s (%(no)s)") % {"name": member.name, "no": member.member_no}
    return form_page(request, form, save, "rewards/simple_form.html", title=title, cancel=member_url(member))


# --------------------------------------------------------------------------- lookup by code


@require_perm(VIEW)
def lookup(request: HttpRequest) -> HttpResponse:
    """Find a coupon by its code as typed (dashes, spaces and case do not matter), or a batch by its
    shared code: the coupon, its batch, its holder, status, validity and uses."""
    form = forms.LookupForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "searched": False}
    if form.is_valid():
        code = form.cleaned_data["code"]
        context["searched"] = True
        coupon = Coupon.objects.select_related("batch", "member").filter(code=code).first()
        batch = coupon.batch if coupon else CouponBatch.objects.filter(shared_code=code).first()
        uses = CouponRedemption.objects.select_related("store", "member")
        if coupon is not None:
            uses = uses.filter(coupon=coupon)
        elif batch is not None:
            uses = uses.filter(batch=batch)
        context.update(
            {
                "code": codes.display(code),
                "coupon": coupon,
                "batch": batch,
                "who": holder(coupon.member) if coupon else None,
                "uses": [(u, holder(u.member)) for u in uses.order_by("-redeemed_at", "-id")[:LOOKUP_USES]]
                if batch
                else [],
                "can_void": has_perm(request.user, ISSUE),
                "voidable": coupon is not None and coupon.status in (CouponStatus.ISSUED, CouponStatus.AVAILABLE),
                "back": request.get_full_path(),
            }
        )
    status = 422 if form.errors else 200
    return render(request, "rewards/lookup.html", context, status=status)
