"""Template context for every console page: the navigation the signed-in role may use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from patron.core.permissions import ROLE_LABELS, Perm, has_perm, role_of

# (url name, label, permission). Capabilities that have not landed yet are listed under "coming"
# so people see the whole product.
NAVIGATION: list[tuple[str, Any, Perm | None]] = [
    ("console:dashboard", _("Dashboard"), Perm.DASHBOARD_VIEW),
    ("members:list", _("Members"), Perm.MEMBERS_VIEW),
    ("members:applications", _("Applications"), Perm.MEMBERS_APPROVE),
    ("members:import_list", _("Import"), Perm.MEMBERS_IMPORT),
    ("members:store_list", _("Stores"), Perm.STORES_MANAGE),
    ("members:staff_list", _("Staff"), Perm.STAFF_MANAGE),
    ("members:attribute_list", _("Profile fields"), Perm.SETTINGS_MANAGE),
    ("ledger:approvals", _("Points approvals"), Perm.POINTS_APPROVE),
    ("ledger:program", _("Points program"), Perm.PROGRAM_MANAGE),
    # Everyone who sees points may read the rules that make them (earning/views.py says why).
    ("earning:list", _("Earning rules"), Perm.POINTS_VIEW),
    ("tiers:list", _("Tiers"), Perm.TIERS_VIEW),
    ("rewards:list", _("Points mall"), Perm.REWARDS_VIEW),
    ("rewards:orders", _("Mall orders"), Perm.REWARDS_VIEW),
    ("rewards:batches", _("Coupons"), Perm.COUPONS_VIEW),
    ("rewards:lookup", _("Coupon lookup"), Perm.COUPONS_VIEW),
    ("rewards:badges", _("Badges"), Perm.REWARDS_VIEW),
    ("kpi:dashboard", _("Member analytics"), Perm.ANALYTICS_VIEW),
    ("analytics:segments", _("Segments"), Perm.SEGMENTS_VIEW),
    ("ledger:finance", _("Points finance"), Perm.FINANCE_VIEW),
    ("apikeys:list", _("API keys"), Perm.APIKEYS_MANAGE),
    ("console:audit_log", _("Audit log"), Perm.AUDIT_VIEW),
]

COMING = [_("Campaigns"), _("Service desk"), _("Events")]


def console(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = role_of(user)
    return {
        "nav": [
            (url, name, label)
            for name, label, perm in NAVIGATION
            if (perm is None or has_perm(user, perm)) and (url := _url(name))
        ],
        "nav_coming": COMING,
        "role": role,
        "role_label": ROLE_LABELS.get(role) if role else "",
    }


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:  # a capability whose pages are not installed
        return ""
