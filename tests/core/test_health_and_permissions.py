"""Health endpoint; roles and permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from patron.core.errors import PermissionDenied
from patron.core.permissions import Perm, Role, check_perm, has_perm, role_of, roles_with


@pytest.mark.django_db
def test_health_reports_ok_and_the_database(client, vendor):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": vendor}


@pytest.mark.django_db
def test_health_reports_503_when_the_database_fails(client, monkeypatch):
    from django.db import connection

    def broken(*a, **kw):
        raise RuntimeError("db down")

    monkeypatch.setattr(connection, "cursor", broken)
    r = client.get("/health")
    assert r.status_code == 503
    assert r.json() == {"status": "error", "database": "db down"}


@pytest.mark.parametrize("perm", list(Perm))
def test_every_permission_is_granted_to_admin_and_known_roles_only(perm):
    roles = roles_with(perm)
    assert roles, f"{perm} is granted to nobody"
    assert Role.ADMIN in roles
    assert roles <= set(Role)


def test_roles_with_returns_a_copy():
    roles_with(Perm.STAFF_MANAGE).add(Role.CASHIER)
    assert roles_with(Perm.STAFF_MANAGE) == {Role.ADMIN}


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_each_role_has_exactly_its_permissions(staff, role):
    user = staff(role.value)
    assert role_of(user) == role
    for perm in Perm:
        assert has_perm(user, perm) == (role in roles_with(perm)), (role, perm)


@pytest.mark.django_db
def test_superuser_is_admin_whatever_the_role_field_says(staff):
    user = staff("cashier")
    user.is_superuser = True
    assert role_of(user) == Role.ADMIN
    assert all(has_perm(user, perm) for perm in Perm)


@pytest.mark.django_db
def test_inactive_and_anonymous_users_have_no_permission(staff):
    user = staff("admin")
    user.is_active = False
    assert role_of(user) is None
    assert not has_perm(user, Perm.DASHBOARD_VIEW)
    assert not has_perm(AnonymousUser(), Perm.DASHBOARD_VIEW)
    assert not has_perm(None, Perm.DASHBOARD_VIEW)


@pytest.mark.django_db
def test_unknown_role_value_has_no_permission_and_check_perm_refuses(staff):
    user = staff("agent")
    user.role = "wizard"
    assert role_of(user) is None
    with pytest.raises(PermissionDenied):
        check_perm(user, Perm.DASHBOARD_VIEW)


def test_cashier_cannot_manage_staff_but_can_record_sales():
    assert Role.CASHIER in roles_with(Perm.TRANSACTIONS_RECORD)
    assert Role.CASHIER not in roles_with(Perm.STAFF_MANAGE)
    assert roles_with(Perm.MEMBERS_UNMERGE) == {Role.ADMIN}
