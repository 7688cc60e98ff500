"""Roles and the permissions each one holds.

A role is a job, not a list of checkboxes: each permission is granted to the roles that need it
for their work and to no other. Views and API handlers ask `has_perm`; tests walk every role.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from patron.core.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    CASHIER = "cashier"
    PROMOTER = "promoter"


ROLE_LABELS = {
    Role.ADMIN: _("Program admin"),
    Role.MARKETER: _("Marketer"),
    Role.ANALYST: _("Analyst"),
    Role.AGENT: _("Call-center agent"),
    Role.SUPERVISOR: _("Supervisor"),
    Role.CASHIER: _("Store cashier"),
    Role.PROMOTER: _("Membership promoter"),
}


class Perm(StrEnum):
    DASHBOARD_VIEW = "dashboard.view"
    MEMBERS_VIEW = "members.view"
    MEMBERS_CREATE = "members.create"
    MEMBERS_EDIT = "members.edit"
    MEMBERS_STATUS = "members.status"
    MEMBERS_ERASE = "members.erase"
    MEMBERS_REVEAL = "members.reveal"
    MEMBERS_MERGE = "members.merge"
    MEMBERS_UNMERGE = "members.unmerge"
    MEMBERS_APPROVE = "members.approve"
    MEMBERS_CONSENT = "members.consent"
    MEMBERS_TAG = "members.tag"
    MEMBERS_IMPORT = "members.import"
    MEMBERS_EXPORT = "members.export"
    TRANSACTIONS_VIEW = "transactions.view"
    TRANSACTIONS_RECORD = "transactions.record"
    STORES_MANAGE = "stores.manage"
    STAFF_MANAGE = "staff.manage"
    AUDIT_VIEW = "audit.view"
    SETTINGS_MANAGE = "settings.manage"
    APIKEYS_MANAGE = "apikeys.manage"
    POINTS_VIEW = "points.view"
    POINTS_REDEEM = "points.redeem"
    POINTS_ADJUST = "points.adjust"
    POINTS_APPROVE = "points.approve"
    PROGRAM_MANAGE = "program.manage"
    FINANCE_VIEW = "finance.view"
    TIERS_VIEW = "tiers.view"
    TIERS_MANAGE = "tiers.manage"
    TIERS_OVERRIDE = "tiers.override"
    TIERS_SIMULATE = "tiers.simulate"
    REWARDS_VIEW = "rewards.view"
    REWARDS_MANAGE = "rewards.manage"
    REWARDS_REDEEM = "rewards.redeem"
    REWARDS_FULFIL = "rewards.fulfil"
    COUPONS_VIEW = "coupons.view"
    COUPONS_MANAGE = "coupons.manage"
    COUPONS_ISSUE = "coupons.issue"
    COUPONS_EXPORT = "coupons.export"
    ANALYTICS_VIEW = "analytics.view"
    ANALYTICS_MANAGE = "analytics.manage"
    SEGMENTS_VIEW = "segments.view"
    SEGMENTS_MANAGE = "segments.manage"


_ALL = set(Role)
_GRANTS: dict[Perm, set[Role]] = {
    Perm.DASHBOARD_VIEW: _ALL,
    Perm.MEMBERS_VIEW: _ALL,
    Perm.MEMBERS_CREATE: {Role.ADMIN, Role.AGENT, Role.SUPERVISOR, Role.CASHIER, Role.PROMOTER},
    Perm.MEMBERS_EDIT: {Role.ADMIN, Role.AGENT, Role.SUPERVISOR},
    Perm.MEMBERS_STATUS: {Role.ADMIN, Role.SUPERVISOR},
    Perm.MEMBERS_ERASE: {Role.ADMIN},
    Perm.MEMBERS_REVEAL: {Role.ADMIN, Role.SUPERVISOR, Role.AGENT},
    Perm.MEMBERS_MERGE: {Role.ADMIN, Role.SUPERVISOR},
    Perm.MEMBERS_UNMERGE: {Role.ADMIN},
    Perm.MEMBERS_APPROVE: {Role.ADMIN, Role.SUPERVISOR},
    Perm.MEMBERS_CONSENT: {Role.ADMIN, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    Perm.MEMBERS_TAG: {Role.ADMIN, Role.MARKETER, Role.AGENT, Role.SUPERVISOR},
    Perm.MEMBERS_IMPORT: {Role.ADMIN},
    Perm.MEMBERS_EXPORT: {Role.ADMIN, Role.MARKETER, Role.ANALYST},
    Perm.TRANSACTIONS_VIEW: {Role.ADMIN, Role.MARKETER, Role.ANALYST, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    Perm.TRANSACTIONS_RECORD: {Role.ADMIN, Role.SUPERVISOR, Role.CASHIER},
    Perm.STORES_MANAGE: {Role.ADMIN},
    Perm.STAFF_MANAGE: {Role.ADMIN},
    Perm.AUDIT_VIEW: {Role.ADMIN, Role.SUPERVISOR},
    Perm.SETTINGS_MANAGE: {Role.ADMIN},
    Perm.APIKEYS_MANAGE: {Role.ADMIN},
    Perm.POINTS_VIEW: {Role.ADMIN, Role.MARKETER, Role.ANALYST, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    # Spending a member's points for them at the till or on the phone.
    Perm.POINTS_REDEEM: {Role.ADMIN, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    Perm.POINTS_ADJUST: {Role.ADMIN, Role.AGENT, Role.SUPERVISOR},
    # The second pair of eyes on a large adjustment.
    Perm.POINTS_APPROVE: {Role.ADMIN, Role.SUPERVISOR},
    Perm.PROGRAM_MANAGE: {Role.ADMIN, Role.MARKETER},
    Perm.FINANCE_VIEW: {Role.ADMIN, Role.ANALYST},
    Perm.TIERS_VIEW: {Role.ADMIN, Role.MARKETER, Role.ANALYST, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    # Editing tier models and going live with one.
    Perm.TIERS_MANAGE: {Role.ADMIN, Role.MARKETER},
    # Putting a member on another tier for a while (service recovery, status match).
    Perm.TIERS_OVERRIDE: {Role.ADMIN, Role.SUPERVISOR},
    Perm.TIERS_SIMULATE: {Role.ADMIN, Role.MARKETER, Role.ANALYST},
    Perm.REWARDS_VIEW: {Role.ADMIN, Role.MARKETER, Role.ANALYST, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    # The catalog, stock, partner code pools and badge definitions.
    Perm.REWARDS_MANAGE: {Role.ADMIN, Role.MARKETER},
    # Redeeming points in the mall for a member (on the phone, at the counter), and cancelling.
    Perm.REWARDS_REDEEM: {Role.ADMIN, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    # Handing gifts over, shipping them, marking vouchers used.
    Perm.REWARDS_FULFIL: {Role.ADMIN, Role.SUPERVISOR, Role.CASHIER},
    Perm.COUPONS_VIEW: {Role.ADMIN, Role.MARKETER, Role.ANALYST, Role.AGENT, Role.SUPERVISOR, Role.CASHIER},
    Perm.COUPONS_MANAGE: {Role.ADMIN, Role.MARKETER},
    # Giving a member a coupon by hand (service recovery) or a group in bulk.
    Perm.COUPONS_ISSUE: {Role.ADMIN, Role.MARKETER, Role.AGENT, Role.SUPERVISOR},
    # Member analytics: RFM, classes, lifecycle, churn reasons and CLV (agents see them on the
    # member page for win-back calls), the dashboard.
    Perm.ANALYTICS_VIEW: {Role.ADMIN, Role.MARKETER, Role.ANALYST, Role.AGENT, Role.SUPERVISOR},
    # Windows, bands and cut points; running a refresh now.
    Perm.ANALYTICS_MANAGE: {Role.ADMIN, Role.ANALYST, Role.MARKETER},
    # Reading segments and counting members live; exporting their members needs MEMBERS_EXPORT too.
    Perm.SEGMENTS_VIEW: {Role.ADMIN, Role.MARKETER, Role.ANALYST, Role.SUPERVISOR},
    # Saving, archiving and freezing segments into snapshots for campaigns.
    Perm.SEGMENTS_MANAGE: {Role.ADMIN, Role.MARKETER, Role.ANALYST},
    # Unused codes are bearer value: exporting them is for those who run the batches.
    Perm.COUPONS_EXPORT: {Role.ADMIN, Role.MARKETER},
}


def roles_with(perm: Perm) -> set[Role]:
    return set(_GRANTS[perm])


def role_of(user: Any) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    try:
        return Role(user.role)
    except ValueError:
        return None


def has_perm(user: Any, perm: Perm) -> bool:
    role = role_of(user)
    return role is not None and role in _GRANTS[perm]


def check_perm(user: Any, perm: Perm) -> None:
    if not has_perm(user, perm):
        raise PermissionDenied(str(_("You do not have permission to do this.")))


V = TypeVar("V", bound=Callable[..., HttpResponse])


def require_perm(perm: Perm) -> Callable[[V], V]:
    """View decorator: anonymous users go to login, signed-in users without the permission get 403."""

    def decorate(view: V) -> V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login  # imports the user model: not at load

                return redirect_to_login(request.get_full_path())
            if not has_perm(request.user, perm):
                from django.core.exceptions import PermissionDenied as DjangoDenied

                raise DjangoDenied(perm)
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
