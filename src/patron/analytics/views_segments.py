"""Console pages of segments (人群): the list, the builder with its live count and sample, snapshots
and exports. Views stay thin: parse, call one service or query, render; a refusal goes back onto
the page."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.analytics import queries, segments, services
from patron.analytics.errors import ErrorCode
from patron.analytics.models import Segment, SegmentSnapshot
from patron.core.errors import DomainError, ValidationFailed
from patron.core.permissions import Perm, has_perm, require_perm
from patron.core.views import file_response, page_number
from patron.members import exports
from patron.members.phones import mask_phone
from patron.members.queries import paginate
from patron.rewards.forms import MemberIssueForm
from patron.rewards.services import GROUP_INLINE

SAMPLE = 20


def _rules_from(request: HttpRequest) -> Any:
    """The rules the builder posts, as JSON (its script writes them; a hand-made post may not)."""
    try:
        return json.loads(request.POST.get("rules") or "{}")
    except json.JSONDecodeError as exc:
        message = _("The rules are not valid JSON.")
        raise ValidationFailed(message, code=ErrorCode.INVALID_SEGMENT, fields={"rules": message}) from exc


def builder_words() -> dict[str, str]:
    """The builder script's words, in the page's language."""
    return {
        "all": _("all of these"),
        "any": _("any of these"),
        "in": _("is one of"),
        "not_in": _("is none of"),
        "tag_any": _("has any of"),
        "tag_all": _("has all of"),
        "tag_none": _("has none of"),
        "yes": _("Yes"),
        "no": _("No"),
        "min": _("at least"),
        "max": _("at most"),
        "days": _("in the last … days"),
        "expiring_days": _("within … days"),
        "stores": _("in stores (none chosen: all)"),
        "add": _("Add a condition"),
        "add_group": _("Add a group"),
        "remove": _("Remove"),
        "values": _("values, separated by commas"),
        "field": _("Choose a field"),
        "match": _("Members matching"),
        "granted": _("granted"),
        "not_granted": _("not granted"),
        "attribute": _("profile field"),
        "every": _("No condition yet: every live member."),
    }


def _builder(request: HttpRequest, segment: Segment | None, status: int = 200, **extra: Any) -> HttpResponse:
    rules = extra.pop("rules", segment.rules if segment else {"match": "all", "conditions": []})
    context = {
        "segment": segment,
        "rules_json": rules,
        "catalog": segments.catalog(),
        "words": builder_words(),
        "can_manage": has_perm(request.user, Perm.SEGMENTS_MANAGE),
        "can_export": has_perm(request.user, Perm.MEMBERS_EXPORT),
        "snapshots": segment.snapshots.order_by("-taken_at")[:20] if segment else [],
        **extra,
    }
    return render(request, "analytics/segment_builder.html", context, status=status)


@require_perm(Perm.SEGMENTS_VIEW)
def segment_list(request: HttpRequest) -> HttpResponse:
    archived = request.GET.get("archived") == "1"
    context = {
        "segments": queries.segments_list(archived=archived),
        "archived": archived,
        "can_manage": has_perm(request.user, Perm.SEGMENTS_MANAGE),
    }
    return render(request, "analytics/segment_list.html", context)


def _save(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    """Create (no segment yet) or update from the builder's form; a refusal goes back onto it."""
    name, description = request.POST.get("name", ""), request.POST.get("description", "")
    rules: Any = None
    try:
        rules = _rules_from(request)
        if segment is None:
            segment = services.create_segment(name=name, description=description, rules=rules)
        else:
            services.update_segment(segment, name=name, description=description, rules=rules)
    except DomainError as exc:
        shown = {"rules": rules} if rules is not None else {}
        return _builder(request, segment, status=422, error=exc, name=name, **shown)
    messages.success(request, _("Segment saved."))
    return redirect("analytics:segment", pk=segment.pk)


@require_perm(Perm.SEGMENTS_MANAGE)
def segment_new(request: HttpRequest) -> HttpResponse:
    return _save(request, None) if request.method == "POST" else _builder(request, None)


@require_perm(Perm.SEGMENTS_VIEW)
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    if request.method != "POST":
        return _builder(request, segment)
    if not has_perm(request.user, Perm.SEGMENTS_MANAGE):
        raise DjangoDenied(Perm.SEGMENTS_MANAGE)
    return _save(request, segment)


@require_POST
@require_perm(Perm.SEGMENTS_VIEW)
def segment_count(request: HttpRequest) -> HttpResponse:
    """The builder's live count and sample (htmx), for the rules being edited. When they are a saved
    segment's own rules, the count is kept for the list page."""
    try:
        rules, q = services.checked(_rules_from(request))
        count, newest = queries.segment_preview(q, SAMPLE)
        sample = [(m, mask_phone(m.phone)) for m in newest]
    except DomainError as exc:
        return render(request, "analytics/_segment_count.html", {"error": exc})
    saved = request.POST.get("segment", "")
    segment = Segment.objects.filter(pk=int(saved), archived_at=None).first() if saved.isdigit() else None
    if segment is not None and segment.rules == rules:
        services.record_count(segment, count)
    return render(request, "analytics/_segment_count.html", {"count": count, "sample": sample})


@require_POST
@require_perm(Perm.SEGMENTS_MANAGE)
def segment_snapshot(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    try:
        snapshot = services.take_snapshot(segment, label=request.POST.get("label", ""))
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("analytics:segment", pk=segment.pk)
    messages.success(request, _("Snapshot taken: %(n)s members frozen.") % {"n": f"{snapshot.member_count:,}"})
    return redirect("analytics:snapshot", pk=snapshot.pk)


@require_POST
@require_perm(Perm.SEGMENTS_MANAGE)
def segment_archive(request: HttpRequest, pk: int) -> HttpResponse:
    services.archive_segment(get_object_or_404(Segment, pk=pk))
    messages.success(request, _("Segment archived."))
    return redirect("analytics:segments")


@require_perm(Perm.SEGMENTS_VIEW)
def snapshot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    snapshot = get_object_or_404(SegmentSnapshot.objects.select_related("segment"), pk=pk)
    page = paginate(queries.snapshot_members(snapshot).select_related("store").order_by("pk"), page_number(request), 50)
    context = {
        "snapshot": snapshot,
        "page": page,
        "rows": [(m, mask_phone(m.phone)) for m in page.items],
        "can_export": has_perm(request.user, Perm.MEMBERS_EXPORT),
        "coupon_form": MemberIssueForm() if has_perm(request.user, Perm.COUPONS_ISSUE) else None,
        "group_inline": GROUP_INLINE,
    }
    return render(request, "analytics/snapshot_detail.html", context)


@require_POST
@require_perm(Perm.SEGMENTS_VIEW)
@require_perm(Perm.COUPONS_ISSUE)
def snapshot_coupons(request: HttpRequest, pk: int) -> HttpResponse:
    """One coupon of a batch to each member frozen in the snapshot."""
    snapshot = get_object_or_404(SegmentSnapshot, pk=pk)
    form = MemberIssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a coupon batch."))
    else:
        messages.success(request, services.issue_coupons(snapshot, form.cleaned_data["batch"]).summary())
    return redirect("analytics:snapshot", pk=snapshot.pk)


def _export(request: HttpRequest, members: Any, audit: dict[str, Any], name: str) -> HttpResponse:
    """The members as CSV or Excel, with the member list's columns, masking and audit row."""
    if not has_perm(request.user, Perm.MEMBERS_EXPORT):
        raise DjangoDenied(Perm.MEMBERS_EXPORT)
    fmt = request.GET.get("format", "csv")
    return file_response(*exports.export_members(members, fmt, request.user, audit=audit, name=name))


@require_perm(Perm.SEGMENTS_VIEW)
def segment_export(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    audit = {"segment": segment.pk, "rules": segment.rules}
    return _export(request, queries.segment_members(segment), audit, f"segment-{segment.pk}")


@require_perm(Perm.SEGMENTS_VIEW)
def snapshot_export(request: HttpRequest, pk: int) -> HttpResponse:
    snapshot = get_object_or_404(SegmentSnapshot, pk=pk)
    audit = {"snapshot": snapshot.pk, "segment": snapshot.segment_id}
    return _export(request, queries.snapshot_members(snapshot), audit, f"snapshot-{snapshot.pk}")
