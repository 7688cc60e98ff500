"""Analytics over the API: a member's metrics with their churn reasons and CLV, and segments — list,
evaluate rules, page through a segment's or a snapshot's members, freeze a snapshot.

Scopes: `analytics:read` for metrics; `segments:read` to list, evaluate and page; `segments:write`
to freeze a snapshot. Member lists carry the member number, name and masked phone (in full with
`members:pii`), and page by member id (`after`), which stays fast at any depth.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from patron.analytics import queries, services
from patron.analytics.errors import ErrorCode
from patron.analytics.models import Segment, SegmentSnapshot
from patron.core.api import idempotent, require_scope
from patron.core.errors import NotFound
from patron.core.schemas import READ_ERRORS, WRITE_ERRORS
from patron.members import queries as members
from patron.members.models import Member
from patron.members.phones import mask_phone

router = Router(tags=["analytics"])
PAGE_MAX = 1000


class MetricsOut(Schema):
    member_no: str
    as_of: dt.date
    lifecycle_stage: str
    rfm: dict[str, Any] | None  # {r, f, m, segment}; null: no purchase in the RFM window
    value_class: str | None
    overdue: bool
    gone_cold: bool
    churn_reasons: list[str]
    purchase_days: int
    last_purchase: dt.date | None
    spend: Decimal
    spend_long: Decimal
    interval_median: float | None
    p_alive: float | None
    expected_purchases: float | None
    expected_value: Decimal | None
    clv: Decimal | None
    categories: list[str]


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    rules: dict[str, Any]
    updated_at: dt.datetime
    last_count: int | None


class SegmentListOut(Schema):
    items: list[SegmentOut]


class RulesIn(Schema):
    rules: dict[str, Any] = Field(default_factory=dict)


class MemberBriefOut(Schema):
    id: int  # the cursor for `after`
    member_no: str
    name: str
    phone: str


class CountOut(Schema):
    count: int
    sample: list[MemberBriefOut]


class MembersPageOut(Schema):
    items: list[MemberBriefOut]
    next_after: int | None  # pass as `after` for the next page; null: this was the last


class SnapshotIn(Schema):
    label: str = ""


class SnapshotOut(Schema):
    id: int
    segment_id: int
    label: str
    taken_at: dt.datetime
    member_count: int


def _brief(member: Member, full: bool) -> dict[str, Any]:
    phone = member.phone if full else mask_phone(member.phone)
    return {"id": member.pk, "member_no": member.member_no, "name": member.name, "phone": phone}


def _segment(segment_id: int) -> Segment:
    segment = Segment.objects.filter(pk=segment_id, archived_at=None).first()
    if segment is None:
        raise NotFound(_("No such segment."), code=ErrorCode.SEGMENT_NOT_FOUND)
    return segment


def _page(qs: Any, after: int, limit: int, full: bool) -> dict[str, Any]:
    limit = max(1, min(limit, PAGE_MAX))
    rows = list(qs.filter(pk__gt=after).order_by("pk")[: limit + 1])
    items = [_brief(m, full) for m in rows[:limit]]
    return {"items": items, "next_after": items[-1]["id"] if len(rows) > limit else None}


@router.get("/members/{member_no}/metrics", response={200: MetricsOut, **READ_ERRORS})
def member_metrics(request: HttpRequest, member_no: str) -> Any:
    require_scope(request, "analytics:read")
    member = members.get_member_by_no(member_no)
    m = queries.metrics_for(member)
    if m is None:
        raise NotFound(_("No metrics for this member yet: the nightly refresh has not seen them."), code="no_metrics")
    rfm = None
    if m.r_score is not None:
        rfm = {"r": m.r_score, "f": m.f_score, "m": m.m_score, "segment": m.rfm_segment}
    return {
        "member_no": member.member_no,
        "as_of": m.as_of,
        "lifecycle_stage": m.lifecycle_stage,
        "rfm": rfm,
        "value_class": m.value_class or None,
        "overdue": m.overdue,
        "gone_cold": m.gone_cold,
        "churn_reasons": queries.churn_reasons(m),
        "purchase_days": m.purchase_days,
        "last_purchase": m.last_purchase,
        "spend": m.spend,
        "spend_long": m.spend_long,
        "interval_median": m.interval_median,
        "p_alive": m.p_alive,
        "expected_purchases": m.expected_purchases,
        "expected_value": m.expected_value,
        "clv": m.clv,
        "categories": m.categories,
    }


@router.get("/segments", response={200: SegmentListOut, **READ_ERRORS})
def segment_list(request: HttpRequest) -> Any:
    require_scope(request, "segments:read")
    return {"items": list(queries.segments_list())}


# Declared before /segments/{segment_id}, whose path would take "evaluate" for an id (and answer 405).
@router.post("/segments/evaluate", response={200: CountOut, **WRITE_ERRORS})
def evaluate(request: HttpRequest, payload: RulesIn) -> Any:
    """How many live members the rules match now, and the most recently joined of them."""
    caller = require_scope(request, "segments:read")
    _rules, q = services.checked(payload.rules)
    full = "members:pii" in caller.scopes
    count, newest = queries.segment_preview(q)
    return {"count": count, "sample": [_brief(m, full) for m in newest]}


@router.get("/segments/{segment_id}", response={200: SegmentOut, **READ_ERRORS})
def segment_detail(request: HttpRequest, segment_id: int) -> Any:
    require_scope(request, "segments:read")
    return _segment(segment_id)


@router.get("/segments/{segment_id}/members", response={200: MembersPageOut, **READ_ERRORS})
def segment_members(request: HttpRequest, segment_id: int, after: int = 0, limit: int = 500) -> Any:
    caller = require_scope(request, "segments:read")
    return _page(queries.segment_members(_segment(segment_id)), after, limit, "members:pii" in caller.scopes)


@router.post("/segments/{segment_id}/snapshots", response={201: SnapshotOut, **WRITE_ERRORS})
def take_snapshot(request: HttpRequest, segment_id: int, payload: SnapshotIn) -> Any:
    """Freeze the segment's members now (for a campaign's send). Takes an Idempotency-Key."""
    require_scope(request, "segments:write")

    def write() -> tuple[int, Any]:
        snapshot = services.take_snapshot(_segment(segment_id), label=payload.label)
        return 201, SnapshotOut.from_orm(snapshot).dict()

    return Status(*idempotent(request, {"segment": segment_id, **payload.dict()}, write))


@router.get("/snapshots/{snapshot_id}/members", response={200: MembersPageOut, **READ_ERRORS})
def snapshot_members(request: HttpRequest, snapshot_id: int, after: int = 0, limit: int = 500) -> Any:
    caller = require_scope(request, "segments:read")
    snapshot = SegmentSnapshot.objects.filter(pk=snapshot_id).first()
    if snapshot is None:
        raise NotFound(_("No such snapshot."), code="snapshot_not_found")
    return _page(queries.snapshot_members(snapshot), after, limit, "members:pii" in caller.scopes)
