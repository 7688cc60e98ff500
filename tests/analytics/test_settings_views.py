"""The analytics settings page and the refreshes page, by role."""

from __future__ import annotations

from django.urls import reverse

from patron.analytics import config
from patron.analytics.models import MetricsRun, RunStatus
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from tests.factories import make_member


def form_data(**changes):
    from patron.analytics.forms import SettingsForm

    data = SettingsForm.initial_from(config.current())
    data.update(changes)
    return data


def test_pages_by_role(client, staff, db):
    for role in Role:
        client.force_login(staff(role.value))
        viewer = role in roles_with(Perm.ANALYTICS_VIEW)
        manager = role in roles_with(Perm.ANALYTICS_MANAGE)
        assert client.get(reverse("analytics:settings")).status_code == (200 if viewer else 403), role
        assert client.get(reverse("analytics:runs")).status_code == (200 if viewer else 403), role
        saved = client.post(reverse("analytics:settings"), form_data(rfm_days=180))
        assert saved.status_code == (302 if manager else 403), role
        refresh = client.post(reverse("analytics:refresh"))
        assert refresh.status_code == (302 if manager else 403), role
    assert AuditEntry.objects.filter(action="analytics.settings_update").count() == len(
        roles_with(Perm.ANALYTICS_MANAGE)
    )


def test_saving_the_settings_and_refusing_bad_bands(client, staff, db):
    client.force_login(staff("analyst"))
    response = client.post(
        reverse("analytics:settings"), form_data(rfm_method="bands", monetary_bands="100, 300，900, 2000")
    )
    assert response.status_code == 302
    settings = config.current()
    assert settings.rfm_method == "bands" and [str(v) for v in settings.monetary_bands] == ["100", "300", "900", "2000"]
    refused = client.post(reverse("analytics:settings"), form_data(recency_bands="90, 30, 120, 240"))
    assert refused.status_code == 422
    assert "Recency cut points: give four cut points in ascending order." in refused.content.decode()
    assert config.current().recency_bands == [30, 60, 120, 240]


def test_refresh_now_runs_the_job_and_lists_it(client, staff, db, django_capture_on_commit_callbacks):
    make_member()
    client.force_login(staff("marketer"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("analytics:refresh"))
    run = MetricsRun.objects.get()
    assert run.status == RunStatus.DONE and run.members == 1
    page = client.get(reverse("analytics:runs")).content.decode()
    assert 'data-status="done"' in page and "Not fitted: 0 buyers" in page
