"""Console pages of the points ledger: a member's points, approvals, program settings, finance.

Views stay thin: parse a form, call one service, then render or redirect. A service's refusal
(`DomainError`) goes back onto the form or the page; it is never a server error. The member page's
points section is added through `members.queries.register_360_section` (see `apps.py`), so the
member registry never imports the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from django.contrib import messages
from django.db.models import Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.errors import DomainError, NotFound
from patron.core.forms import show_domain_error
from patron.core.permissions import Perm, has_perm, require_perm
from patron.core.views import form_page, fragment, page_number, safe_next
from patron.ledger import audit, exports, forms, program, queries, services
from patron.ledger.models import (
    AccountKind,
    Adjustment,
    AdjustmentStatus,
    Hold,
    Journal,
    PointType,
    Posting,
    ProgramSettings,
)
from patron.members.models import Member
from patron.members.queries import Page, paginate, register_360_section

STATEMENT_PAGE = 25
LIST_LIMIT = 100  # lots, holds and adjustments shown on the member's points page
SECTION_LOTS = 5  # open lots shown on the member page


def _member(pk: int) -> Member:
    return get_object_or_404(Member.objects.select_related("store"), pk=pk)


def _expiring_total(member: Member, days: int) -> int:
    return sum(e.points for e in queries.expiring(member, days))


def _by_type(balance: queries.Balance) -> list[dict[str, Any]]:
    """One row per point type the member has an account in, in the program's order."""
    labels = dict(PointType.choices)
    rows = []
    for point_type in PointType.values:
        sums = balance.by_type.get(point_type)
        if sums and any(sums.values()):
            rows.append(
                {
                    "label": labels[point_type],
                    "available": sums["available"],
                    "pending": sums["pending"],
                    "held": sums["held"],
                    "owed": -sums["debt"],
                }
            )
    return rows


def _with_purpose(holds: Iterable[Hold]) -> list[tuple[Hold, str]]:
    return [(hold, str(forms.PURPOSE_LABELS.get(hold.purpose, hold.purpose))) for hold in holds]


# --------------------------------------------------------------------------- the member page's section


def register_member_section() -> None:
    """Called from the app's `ready()`. The section's name is its heading on the member page, so it
    is translated when the page is drawn."""
    register_360_section(cast(str, gettext_lazy("Points")), points_section)


def points_section(member: Member) -> dict[str, Any]:
    """The member 360 page's points section: balances, what expires soon, open lots and holds.

    The 360 view renders each entry as a term and its value; the lists come as small HTML tables.
    Who is looking comes from the request's actor (the hook passes the member alone)."""
    user = current_actor().user
    if not has_perm(user, Perm.POINTS_VIEW):
        return {}
    balance = queries.balance(member)
    lots = list(queries.open_lots(member)[: SECTION_LOTS + 1])
    holds = _with_purpose(queries.holds(member, open_only=True)[:LIST_LIMIT])
    context = {
        "m": member,
        "lots": lots[:SECTION_LOTS],
        "more_lots": len(lots) > SECTION_LOTS,
        "holds": holds,
        "can_void": has_perm(user, Perm.POINTS_REDEEM),
        "back": reverse("members:detail", args=[member.pk]),
    }
    return {
        _("Available"): _pointsfragment(balance.available, "points-available"),
        _("Pending"): balance.pending,
        _("Held"): balance.held,
        _("Owed"): -balance.debt,
        _("Expiring in 30 days"): _expiring_total(member, 30),
        _("Expiring in 90 days"): _expiring_total(member, 90),
        _("Open lots"): fragment("ledger/_section_lots.html", context),
        _("Open holds"): fragment("ledger/_section_holds.html", context),
        "": fragment("ledger/_section_link.html", context),
    }


def _pointsfragment(points: int, testid: str) -> SafeString:
    return fragment("ledger/_points.html", {"points": points, "testid": testid})


# --------------------------------------------------------------------------- the member's points page


def _balance_after(member: Member, top: Journal) -> int:
    """The member's total after `top`: every journal up to and including it."""
    up_to = Journal.objects.filter(member=member).filter(
        Q(created_at__lt=top.created_at) | Q(created_at=top.created_at, id__lte=top.id)
    )
    return up_to.aggregate(s=Sum("points"))["s"] or 0


def _effects(journals: list[Journal]) -> dict[int, list[tuple[str, int]]]:
    """How each journal moved the member's balances: (available +100), (held +50, available −50)..."""
    labels = {
        AccountKind.AVAILABLE: _("available"),
        AccountKind.PENDING: _("pending"),
        AccountKind.HELD: _("held"),
        AccountKind.DEBT: _("owed"),
    }
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = (
        Posting.objects.filter(journal__in=journals, account__member__isnull=False)
        .values("journal_id", "account__kind")
        .annotate(s=Sum("amount"))
    )
    for row in rows:
        # Owing more is a debt posting below zero: shown as "owed +n".
        amount = -row["s"] if row["account__kind"] == AccountKind.DEBT else row["s"]
        sums[row["journal_id"]][row["account__kind"]] += amount
    order = [AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD, AccountKind.DEBT]
    return {
        journal_id: [(str(labels[kind]), by_kind[kind]) for kind in order if by_kind.get(kind)]
        for journal_id, by_kind in sums.items()
    }


def _statement_rows(member: Member, page: Page) -> list[dict[str, Any]]:
    journals: list[Journal] = list(page.items)
    if not journals:
        return []
    effects = _effects(journals)
    after = _balance_after(member, journals[0])
    rows = []
    for journal in journals:
        receipt, store = exports.source(journal)
        rows.append(
            {
                "j": journal,
                "kind": exports.kind_label(journal.kind),
                "effects": effects.get(journal.pk, []),
                "after": after,
                "receipt": receipt,
                "store": store,
                "rules": exports.rules(journal),
            }
        )
        after -= journal.points
    return rows


def _points_context(request: HttpRequest, member: Member, **overrides: Any) -> dict[str, Any]:
    user = request.user
    balance = queries.balance(member)
    page = paginate(queries.journals(member), page_number(request), STATEMENT_PAGE)
    context = {
        "m": member,
        "balance": balance,
        "owed": -balance.debt,
        "by_type": _by_type(balance),
        "expiring_30": _expiring_total(member, 30),
        "expiring_90": _expiring_total(member, 90),
        "page": page,
        "statement": _statement_rows(member, page),
        "lots": list(queries.open_lots(member).select_related("transaction")[:LIST_LIMIT]),
        "holds": _with_purpose(queries.holds(member)[:LIST_LIMIT]),
        "adjustments": list(queries.member_adjustments(member)[:LIST_LIMIT]),
        "approval_over": program.current().adjustment_approval_over,
        "can": {
            "adjust": has_perm(user, Perm.POINTS_ADJUST),
            "void": has_perm(user, Perm.POINTS_REDEEM),
            "approve": has_perm(user, Perm.POINTS_APPROVE),
        },
        "adjust_form": forms.AdjustForm(),
        "statement_form": forms.StatementForm(initial=forms.StatementForm.default_period()),
        "back": reverse("ledger:member_points", args=[member.pk]),
    }
    context.update(overrides)
    return context


def _render_points(request: HttpRequest, member: Member, status: int = 200, **overrides: Any) -> HttpResponse:
    return render(request, "ledger/member_points.html", _points_context(request, member, **overrides), status=status)


@require_perm(Perm.POINTS_VIEW)
def member_points(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_points(request, _member(pk))


@require_perm(Perm.POINTS_ADJUST)
@require_POST
def adjust(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(pk)
    form = forms.AdjustForm(request.POST)
    if form.is_valid():
        try:
            adjustment = services.do_request_adjustment(member=member, **form.cleaned_data)
        except DomainError as exc:
            show_domain_error(form, exc)
        else:
            values = {"points": f"{adjustment.points:+d}"}
            if adjustment.status == AdjustmentStatus.POSTED:
                messages.success(request, _("Adjustment of %(points)s points posted.") % values)
            else:
                messages.warning(
                    request,
                    _("Adjustment of %(points)s points is over the limit and waits for a second person's approval.")
                    % values,
                )
            return redirect("ledger:member_points", pk=member.pk)
    return _render_points(request, member, status=422, adjust_form=form)


@require_perm(Perm.POINTS_VIEW)
def statement(request: HttpRequest, pk: int) -> HttpResponse:
    """The 积分对账单 for a chosen period, as PDF or Excel. Each download leaves an audit row."""
    member = _member(pk)
    form = forms.StatementForm(request.GET)
    if not form.is_valid():
        return _render_points(request, member, status=422, statement_form=form)
    start, end, fmt = form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data["format"]
    made = queries.statement(member, start, end)
    record_audit(
        "points.statement_export",
        obj=member,
        after={"format": fmt, "start": start.isoformat(), "end": end.isoformat()},
    )
    if fmt == "xlsx":
        response = HttpResponse(exports.statement_xlsx(made), content_type=exports.XLSX)
    else:
        response = HttpResponse(exports.statement_pdf(made), content_type=exports.PDF)
    response["Content-Disposition"] = f'attachment; filename="{exports.statement_filename(made, fmt)}"'
    return response


@require_perm(Perm.POINTS_REDEEM)
@require_POST
def void_hold(request: HttpRequest, pk: int) -> HttpResponse:
    """Give a hold's points back to the member (an order that will not go through)."""
    try:
        hold = services.get_hold(pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        services.do_void_hold(hold=hold)
        messages.success(request, _("Hold released: %(points)s points are available again.") % {"points": hold.points})
    except DomainError as exc:
        messages.error(request, exc.message)
    target = safe_next(request, reverse("ledger:member_points", args=[hold.member_id]))
    if request.headers.get("HX-Request") == "true":  # the member page's section posts through htmx
        return HttpResponse(headers={"HX-Redirect": target})
    return redirect(target)


# --------------------------------------------------------------------------- approvals


def _render_approvals(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    rows = list(queries.adjustments_awaiting().select_related("member")[:200])
    user_id = getattr(request.user, "pk", None)
    context = {"rows": rows, "errors": {}, "notes": {}, "user_id": user_id, **extra}
    listed = {a.pk for a in rows}
    # A refusal about an adjustment no longer waiting (decided meanwhile) shows above the list.
    context["other_errors"] = [message for pk, message in context["errors"].items() if pk not in listed]
    return render(request, "ledger/approvals.html", context, status=status)


@require_perm(Perm.POINTS_APPROVE)
def approvals(request: HttpRequest) -> HttpResponse:
    return _render_approvals(request)


def _decide(request: HttpRequest, pk: int, approve: bool) -> HttpResponse:
    adjustment = get_object_or_404(Adjustment.objects.select_related("member"), pk=pk)
    form = forms.DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        if approve:
            services.do_approve_adjustment(adjustment=adjustment, note=note)
        else:
            services.do_reject_adjustment(adjustment=adjustment, note=note)
    except DomainError as exc:
        return _render_approvals(request, status=422, errors={adjustment.pk: exc.message}, notes={adjustment.pk: note})
    values = {"points": f"{adjustment.points:+d}", "name": adjustment.member.name}
    if approve:
        messages.success(request, _("Adjustment of %(points)s points for %(name)s approved and posted.") % values)
    else:
        messages.success(request, _("Adjustment of %(points)s points for %(name)s rejected.") % values)
    return redirect("ledger:approvals")


@require_perm(Perm.POINTS_APPROVE)
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=True)


@require_perm(Perm.POINTS_APPROVE)
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=False)


# --------------------------------------------------------------------------- program settings


@require_perm(Perm.PROGRAM_MANAGE)
def program_settings(request: HttpRequest) -> HttpResponse:
    row = ProgramSettings.objects.filter(pk=1).first()
    config = program.ProgramConfig.model_validate(row.config) if row else program.ProgramConfig()
    form = forms.ProgramForm(request.POST or None, initial=forms.ProgramForm.initial_from(config))

    def save() -> str:
        services.do_update_program(changes=form.changes())
        messages.success(request, _("Points program saved."))
        return "ledger:program"

    return form_page(request, form, save, "ledger/program.html", show_error=form.show_program_errors, row=row)


# --------------------------------------------------------------------------- finance


def _identity(figures: queries.Liability) -> list[tuple[str, str, int]]:
    """The movement identity as (sign, label, points) lines, ending in the computed outstanding."""
    adjusted_sign = "+" if figures.adjusted >= 0 else "−"
    return [
        ("", _("Issued"), figures.issued),
        ("−", _("Reversed"), figures.reversed),
        ("−", _("Redeemed"), figures.redeemed),
        ("+", _("Returned after refunds"), figures.returned),
        ("−", _("Expired"), figures.expired),
        (adjusted_sign, _("Adjusted (net)"), abs(figures.adjusted)),
        ("+", _("Written off"), figures.written_off),
    ]


def _finance_context(**extra: Any) -> dict[str, Any]:
    figures = queries.liability()
    months = queries.monthly_movements(12)
    return {
        "figures": figures,
        "identity": _identity(figures),
        "adds_up": figures.by_movements == figures.outstanding,
        "months": months,
        "chart": {
            "months": [row["month"] for row in months],
            "series": [
                {"name": _("Issued (net)"), "data": [row["issued_net"] for row in months]},
                {"name": _("Redeemed (net)"), "data": [row["redeemed_net"] for row in months]},
                {"name": _("Expired"), "data": [row["expired"] for row in months]},
            ],
        },
        "counts": queries.member_counts(),
        **extra,
    }


@require_perm(Perm.FINANCE_VIEW)
def finance(request: HttpRequest) -> HttpResponse:
    return render(request, "ledger/finance.html", _finance_context())


# The audit's checks by name, in the page's language (a check not listed shows its own name).
AUDIT_LABELS = {
    "every journal balances": gettext_lazy("Every journal balances"),
    "all accounts sum to zero": gettext_lazy("All accounts sum to zero"),
    "member balance = sum of postings": gettext_lazy("Member balances = sum of their postings"),
    "member balance = sum of open lots": gettext_lazy("Member balances = sum of their open lots"),
    "held balance = open holds": gettext_lazy("Held balances = open holds"),
    "lot remainder = amount + its moves": gettext_lazy("Each lot's remainder = its amount + its moves"),
    "no negative balance": gettext_lazy("No negative balance"),
    "debt only from clawbacks": gettext_lazy("Points are owed only after refund clawbacks"),
    "issued − redeemed − expired − reversed ± adjustments = liability": gettext_lazy(
        "The movements add up to the liability"
    ),
}


@require_perm(Perm.FINANCE_VIEW)
@require_POST
def run_audit(request: HttpRequest) -> HttpResponse:
    checks = audit.run()
    rows = [(check, str(AUDIT_LABELS.get(check.name, check.name))) for check in checks]
    return render(request, "ledger/finance.html", _finance_context(checks=rows, audit_ok=all(c.ok for c in checks)))


@require_perm(Perm.FINANCE_VIEW)
def finance_export(request: HttpRequest) -> HttpResponse:
    form = forms.ExportForm(request.GET)
    fmt = form.cleaned_data["format"] if form.is_valid() and form.cleaned_data["format"] else "csv"
    months = queries.monthly_movements(12)
    stamp = f"{clock.now().astimezone(clock.member_zone()):%Y%m%d}"
    if fmt == "xlsx":
        response = HttpResponse(exports.monthly_xlsx(months), content_type=exports.XLSX)
    else:
        response = HttpResponse(exports.monthly_csv(months), content_type=exports.CSV)
    response["Content-Disposition"] = f'attachment; filename="points-by-month-{stamp}.{fmt}"'
    return response


def register_timeline_sentences() -> None:
    """How the member timeline words the ledger's entries (in the reader's language)."""
    from patron.members.queries import register_timeline_sentence

    register_timeline_sentence("points_redeemed", lambda d: _("Redeemed %(p)s points.") % {"p": d.get("points", "")})
    register_timeline_sentence(
        "points_adjusted",
        lambda d: _("Points adjusted by %(p)s: %(r)s.") % {"p": d.get("points", ""), "r": d.get("reason", "")},
    )
    register_timeline_sentence("points_expired", lambda d: _("%(p)s points expired.") % {"p": d.get("points", "")})
