"""Console shell: sign-in with lockout, dashboard, audit log, API keys page — by role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patron.api.models import ApiKey
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db
ALL_ROLES = [r.value for r in Role]


def sign_in(client, user):
    client.force_login(user)
    return client


def test_login_with_right_password_goes_to_dashboard(client, staff):
    user = staff("agent")
    response = client.post(reverse("console:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:dashboard")


def test_login_refuses_wrong_password_and_records_the_failure(client, staff):
    user = staff("agent")
    response = client.post(reverse("console:login"), {"username": user.username, "password": "nope"})
    assert response.status_code == 401
    assert AuditEntry.objects.filter(action="login.failed", object_id=user.username).count() == 1


def test_login_locks_out_after_five_failures_even_with_the_right_password(client, staff, settings):
    settings.LOGIN_MAX_FAILURES = 5
    user = staff("agent")
    for _ in range(5):
        client.post(reverse("console:login"), {"username": user.username, "password": "wrong"})
    response = client.post(reverse("console:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_ignores_next_pointing_to_another_site(client, staff):
    user = staff("agent")
    response = client.post(
        reverse("console:login"), {"username": user.username, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("console:dashboard")


def test_anonymous_dashboard_redirects_to_login(client):
    response = client.get(reverse("console:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_dashboard_shows_real_counts_to_every_role(client, staff, store, role):
    make_member(name="李娜", store=store)
    make_member(name="王强", store=store)
    response = sign_in(client, staff(role)).get(reverse("console:dashboard"))
    assert response.status_code == 200
    assert response.context["counts"]["members"] == 2
    assert response.context["counts"]["new_this_month"] == 2
    assert response.context["counts"]["by_store"][0]["n"] == 2


@pytest.mark.parametrize("role", ALL_ROLES)
def test_audit_log_only_for_roles_with_audit_view(client, staff, role):
    response = sign_in(client, staff(role)).get(reverse("console:audit_log"))
    expected = 200 if Role(role) in roles_with(Perm.AUDIT_VIEW) else 403
    assert response.status_code == expected


@pytest.mark.parametrize("role", ALL_ROLES)
def test_api_key_creation_only_by_admins_and_nothing_made_on_denial(client, staff, role):
    response = sign_in(client, staff(role)).post(reverse("apikeys:list"), {"name": "till 1", "scopes": ["pos"]})
    if Role(role) in roles_with(Perm.APIKEYS_MANAGE):
        assert response.status_code == 200
        assert ApiKey.objects.filter(name="till 1").count() == 1
        assert response.context["plain"].startswith("pk_")
    else:
        assert response.status_code == 403
        assert ApiKey.objects.count() == 0


def test_revoked_key_no_longer_authenticates(client, staff, api_key):
    plain = api_key("members:read")
    key = ApiKey.objects.get()
    sign_in(client, staff("admin")).post(reverse("apikeys:revoke", args=[key.pk]))
    response = client.get("/api/v1/members", HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_navigation_lists_only_what_the_role_may_open(client, staff):
    response = sign_in(client, staff("cashier")).get(reverse("console:dashboard"))
    urls = [url for url, _name, _label in response.context["nav"]]
    assert reverse("apikeys:list") not in urls
    assert reverse("console:audit_log") not in urls


def test_language_switch_to_english(client, staff):
    sign_in(client, staff("agent"))
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("console:dashboard"))
    assert response.status_code == 200
    assert b'lang="en"' in response.content


def test_health_reports_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
