"""Tiers over the API: the live ladder with its benefits, and a member's tier with their progress.

Both are reads for the till and the member apps: a key with `members:read` or `pos` may call them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema

from patron.core.api import require_scope
from patron.core.errors import NotFound
from patron.core.schemas import ErrorOut
from patron.members import queries as members
from patron.tiers import queries
from patron.tiers.config import TierSpec
from patron.tiers.errors import ErrorCode

router = Router(tags=["tiers"])
READ_SCOPES = ("members:read", "pos")


class TierOut(Schema):
    code: str
    name: str
    name_en: str
    color: str
    badge: str
    level: int
    lifetime: bool
    qualify: dict[str, Any]
    benefits: list[dict[str, Any]]


class TierListOut(Schema):
    tiers: list[TierOut]


class TierBriefOut(Schema):
    code: str
    name: str
    name_en: str
    color: str
    badge: str


class NeedOut(Schema):
    metric: str  # spend (in the program currency), purchase_days or points
    have: Decimal | int
    target: Decimal | int
    missing: Decimal | int
    percent: int


class GoalOut(Schema):
    tier: str
    combine: str  # any: one need is enough; all: every one
    needs: list[NeedOut]
    by: dt.date | None  # the last day that counts; null: no deadline (rolling or since-joining window)
    met: bool


class OverrideOut(Schema):
    tier: str
    until: dt.datetime
    reason: str


class ProgressOut(Schema):
    next: GoalOut | None
    keep: GoalOut | None


class MemberTierOut(Schema):
    member_no: str
    tier: TierBriefOut
    rules_tier: str  # the rules' tier: another than `tier` while an override shows one
    since: dt.date | None
    review_on: dt.date | None
    grace_until: dt.date | None
    lifetime_floor: str | None
    override: OverrideOut | None
    progress: ProgressOut


def _brief(tier: TierSpec) -> dict[str, Any]:
    return {"code": tier.code, "name": tier.name, "name_en": tier.name_en, "color": tier.color, "badge": tier.badge}


def _goal(goal: queries.Goal | None) -> dict[str, Any] | None:
    if goal is None:
        return None
    return {
        "tier": goal.tier.code,
        "combine": goal.combine,
        "needs": [
            {"metric": n.metric, "have": n.have, "target": n.target, "missing": n.missing, "percent": n.percent}
            for n in goal.needs
        ],
        "by": goal.by,
        "met": goal.met,
    }


@router.get("/tiers", response={200: TierListOut, 401: ErrorOut, 403: ErrorOut})
def list_tiers(request: HttpRequest) -> dict[str, Any]:
    """The live tier ladder, lowest first, with what each tier asks for and gives (empty while no
    tier model is live)."""
    require_scope(request, *READ_SCOPES)
    return {"tiers": queries.tier_list()}


@router.get("/members/{member_no}/tier", response={200: MemberTierOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def get_member_tier(request: HttpRequest, member_no: str) -> dict[str, Any]:
    """The member's tier as shown (an override included), since when, the next review, and what
    they still need for the next tier and to keep this one at the review."""
    require_scope(request, *READ_SCOPES)
    member = members.get_member_by_no(member_no)
    view = queries.member_tier(member)
    if view is None:
        raise NotFound(_("No tier model is live yet."), code=ErrorCode.NO_LIVE_MODEL)
    progress = queries.progress(member)
    override = None
    if view.override_until is not None:
        override = {"tier": view.tier.code, "until": view.override_until, "reason": view.override_reason}
    return {
        "member_no": member.member_no,
        "tier": _brief(view.tier),
        "rules_tier": view.rules_tier.code,
        "since": view.since,
        "review_on": view.review_on,
        "grace_until": view.grace_until,
        "lifetime_floor": view.lifetime_floor.code if view.lifetime_floor else None,
        "override": override,
        "progress": {
            "next": _goal(progress.next if progress else None),
            "keep": _goal(progress.keep if progress else None),
        },
    }
