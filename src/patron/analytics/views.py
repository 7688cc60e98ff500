"""Console pages of member analytics, and the member page's analytics section.

The section is added through `members.queries.register_360_section` (see `apps.py`), so the member
registry never imports analytics."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.analytics import config, queries
from patron.analytics.models import MemberMetrics
from patron.core.context import current_actor
from patron.core.permissions import Perm, has_perm
from patron.core.types import yuan
from patron.core.views import fragment
from patron.members.models import Member
from patron.members.queries import register_360_section


def money(value: Decimal | int | None) -> str:
    return "–" if value is None else yuan(value)


def register_member_section() -> None:
    """Called from the app's `ready()`; the name is translated when the page is drawn."""
    register_360_section(cast(str, gettext_lazy("Member analytics")), member_section)


def member_section(member: Member) -> dict[str, Any]:
    """RFM, class, lifecycle stage, churn reasons and CLV as of the last refresh."""
    if not has_perm(current_actor().user, Perm.ANALYTICS_VIEW):
        return {}
    m = queries.metrics_for(member)
    if m is None:
        return {_("Member analytics"): _("Not computed yet: the nightly refresh has not seen this member.")}
    settings = config.current()
    return {
        _("Lifecycle stage"): m.get_lifecycle_stage_display(),
        _("RFM"): rfm_text(m),
        _("Value class"): m.get_value_class_display() if m.value_class else "–",
        _("Churn warning"): fragment("analytics/_reasons.html", {"reasons": queries.churn_reasons(m, settings)}),
        _("Customer lifetime value"): clv_text(m, settings),
        _("Buying rhythm"): rhythm_text(m),
        _("Categories bought"): "、".join(m.categories) or "–",
        _("As of"): m.as_of.isoformat(),
    }


def rfm_text(m: MemberMetrics) -> str:
    if m.r_score is None:
        return _("No purchase in the RFM window")
    return _("R%(r)s F%(f)s M%(m)s · %(segment)s") % {
        "r": m.r_score,
        "f": m.f_score,
        "m": m.m_score,
        "segment": m.get_rfm_segment_display(),
    }


def clv_text(m: MemberMetrics, settings: config.Settings) -> str:
    if m.clv is None:
        return "–"
    return _(
        "%(clv)s over %(months)s months · %(alive)s%% likely still active · %(expected)s purchases expected "
        "in %(days)s days · %(value)s a purchase"
    ) % {
        "clv": money(m.clv),
        "months": settings.clv_months,
        "alive": round((m.p_alive or 0) * 100),
        "expected": f"{m.expected_purchases or 0:.1f}",
        "days": settings.forecast_days,
        "value": money(m.expected_value),
    }


def rhythm_text(m: MemberMetrics) -> str:
    if not m.purchase_days:
        return _("No purchase yet")
    text = _("%(n)s purchase days, the last on %(last)s (%(silent)s days ago)") % {
        "n": m.purchase_days,
        "last": m.last_purchase.isoformat() if m.last_purchase else "–",
        "silent": m.recency_days,
    }
    if m.interval_median is not None:
        text += _("; usually every %(days)s days") % {"days": f"{m.interval_median:.0f}"}
    return text
