"""Console pages of the points mall, coupons and badges: what the page modules share, the member
page's sections and the timeline's sentences.

The pages live in `views_catalog` (rewards, categories, stock, partner codes, badges),
`views_orders` (the orders queue, an order's actions, redeeming for a member), `views_coupons`
(batches, codes, issuing, voiding, the code lookup) and `views_reports`. Views stay thin: parse a
form, call one service, then render or redirect; a service's refusal (`DomainError`) goes back
onto the form or the page, never a server error. The member page's sections and the timeline's
sentences are added through `members.queries` (see `apps.py`), so the member registry never
imports the rewards.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied as DjangoDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from patron.core.context import current_actor
from patron.core.permissions import Perm, has_perm
from patron.core.views import fragment
from patron.members.models import Member
from patron.members.phones import mask_phone
from patron.members.queries import register_360_section, register_timeline_sentence
from patron.rewards import codes, queries
from patron.rewards.models import Coupon, CouponSource, MemberBadge, RedemptionOrder

SECTION_ORDERS = 5  # mall orders on the member page
SECTION_COUPONS = 10  # and coupons
LIST_PAGE = 50


def require(request: HttpRequest, perm: Perm) -> None:
    if not has_perm(request.user, perm):
        raise DjangoDenied(perm)


def holder(member: Member | None) -> dict[str, Any] | None:
    """A member as the rewards' pages show them: name, number and the masked phone."""
    if member is None:
        return None
    return {"m": member, "phone": mask_phone(member.phone)}


# --------------------------------------------------------------------------- the member page's sections


def register_member_sections() -> None:
    """Called from the app's `ready()`. A section's name is its heading on the member page, so it is
    translated when the page is drawn."""
    register_360_section(cast(str, gettext_lazy("Points mall")), mall_section)
    register_360_section(cast(str, gettext_lazy("Coupons")), coupons_section)


def streak_text(member: Member) -> str:
    """The check-in streak as the member's calendar reckons it (on their own local day)."""
    cal = queries.check_in_month(member)
    if cal.last_day is None:
        return _("Never checked in")
    days = ngettext("%(n)s day in a row", "%(n)s days in a row", cal.streak) % {"n": cal.streak}
    return _("%(days)s · last check-in %(date)s") % {"days": days, "date": cal.last_day.isoformat()}


def mall_section(member: Member) -> dict[str, Any]:
    """The member 360 page's points mall section: recent orders, badges, the check-in streak and the
    way to redeem for the member. Who is looking comes from the request's actor."""
    user = current_actor().user
    if not has_perm(user, Perm.REWARDS_VIEW):
        return {}
    orders = list(
        RedemptionOrder.objects.filter(member=member)
        .select_related("reward")
        .order_by("-placed_at", "-id")[: SECTION_ORDERS + 1]
    )
    context = {
        "m": member,
        "orders": orders[:SECTION_ORDERS],
        "more_orders": len(orders) > SECTION_ORDERS,
        "badges": list(MemberBadge.objects.filter(member=member).select_related("badge")),
        "can_redeem": has_perm(user, Perm.REWARDS_REDEEM),
    }
    return {
        _("Mall orders"): fragment("rewards/_section_orders.html", context),
        _("Badges"): fragment("rewards/_section_badges.html", context),
        _("Check-in streak"): streak_text(member),
        "": fragment("rewards/_section_mall_links.html", context),
    }


def coupons_section(member: Member) -> dict[str, Any]:
    """The member 360 page's coupons: the latest, with their code, status and validity."""
    user = current_actor().user
    if not has_perm(user, Perm.COUPONS_VIEW):
        return {}
    coupons = list(
        Coupon.objects.filter(member=member)
        .select_related("batch")
        .order_by("-issued_at", "-id")[: SECTION_COUPONS + 1]
    )
    rows = [(c, codes.display(c.code or c.batch.shared_code or "")) for c in coupons[:SECTION_COUPONS]]
    context = {
        "m": member,
        "rows": rows,
        "more": len(coupons) > SECTION_COUPONS,
        "can_issue": has_perm(user, Perm.COUPONS_ISSUE),
    }
    return {
        _("Coupons"): fragment("rewards/_section_coupons.html", context),
        "": fragment("rewards/_section_coupon_links.html", context),
    }


# --------------------------------------------------------------------------- the timeline


def _tail(code: str) -> str:
    """A coupon code in a timeline sentence: its last four characters only (the timeline is read by
    roles that may not see coupons, and a code is bearer value)."""
    plain = codes.normalize(code)
    return "…" + plain[-4:] if len(plain) > 4 else plain


def _source(value: Any) -> str:
    return str(dict(CouponSource.choices).get(value, value or ""))


UNDO_REASONS = {
    "refund": gettext_lazy("a full refund"),
    "till_undo": gettext_lazy("undone at the till"),
    "staff": gettext_lazy("undone by staff"),
}


def _sentence_ordered(d: dict[str, Any]) -> str:
    return _("Redeemed %(quantity)s × %(reward)s for %(points)s points (order %(order)s).") % {
        "quantity": d.get("quantity", 1),
        "reward": d.get("reward", ""),
        "points": d.get("points", ""),
        "order": d.get("order", ""),
    }


def _sentence_redeemed(d: dict[str, Any]) -> str:
    used = [_tail(str(c)) for c in d.get("codes") or []]
    return _("Used coupons %(codes)s at store %(store)s: %(discount)s off.") % {
        "codes": ", ".join(used),
        "store": d.get("store", ""),
        "discount": d.get("discount", ""),
    }


def _sentence_birthday(d: dict[str, Any]) -> str:
    if d.get("points"):
        return _("Birthday gift %(year)s: %(points)s points.") % {"year": d.get("year", ""), "points": d["points"]}
    return _("Birthday gift %(year)s: a coupon.") % {"year": d.get("year", "")}


def register_timeline_sentences() -> None:
    """How the member timeline words the rewards' entries (in the reader's language)."""

    def of(d: dict[str, Any]) -> dict[str, Any]:
        return {"order": d.get("order", ""), "reward": d.get("reward", "")}

    register_timeline_sentence("reward_ordered", _sentence_ordered)
    register_timeline_sentence(
        "reward_fulfilled", lambda d: _("Order %(order)s (%(reward)s) handed over or delivered.") % of(d)
    )
    register_timeline_sentence(
        "reward_cancelled",
        lambda d: _("Order %(order)s (%(reward)s) cancelled: %(reason)s.") % {**of(d), "reason": d.get("reason", "")},
    )
    register_timeline_sentence("voucher_used", lambda d: _("Voucher of order %(order)s (%(reward)s) used.") % of(d))
    register_timeline_sentence(
        "coupon_issued",
        lambda d: (
            _("Coupon “%(batch)s” received (%(source)s), code %(code)s.")
            % {"batch": d.get("batch", ""), "source": _source(d.get("source")), "code": _tail(str(d.get("code", "")))}
        ),
    )
    register_timeline_sentence("coupons_redeemed", _sentence_redeemed)
    register_timeline_sentence(
        "coupon_unredeemed",
        lambda d: (
            _("A use of coupon “%(batch)s” was taken back (%(reason)s).")
            % {"batch": d.get("batch", ""), "reason": UNDO_REASONS.get(str(d.get("reason")), d.get("reason", ""))}
        ),
    )
    register_timeline_sentence(
        "badge_awarded", lambda d: _("Badge “%(badge)s” awarded.") % {"badge": d.get("badge", "")}
    )
    register_timeline_sentence(
        "coupon_voided",
        lambda d: (
            _("Coupon “%(batch)s” voided: %(reason)s.") % {"batch": d.get("batch", ""), "reason": d.get("reason", "")}
        ),
    )
    register_timeline_sentence("birthday_gift", _sentence_birthday)
    register_timeline_sentence(
        "points_returned",
        lambda d: (
            _("%(points)s points returned: %(reason)s.")
            % {"points": d.get("points", ""), "reason": d.get("reason", "")}
        ),
    )


def member_url(member: Member) -> str:
    return reverse("members:detail", args=[member.pk])
