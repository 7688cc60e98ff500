"""Console pages of the analytics settings (windows, bands, cut points, thresholds) and the refresh
runs, with "refresh now"."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.analytics import config, queries, services, tasks
from patron.analytics.forms import SettingsForm
from patron.analytics.models import MetricsRun
from patron.core.errors import DomainError
from patron.core.events import on_commit
from patron.core.permissions import Perm, has_perm, require_perm

RUNS_SHOWN = 30


@require_perm(Perm.ANALYTICS_VIEW)
def settings_page(request: HttpRequest) -> HttpResponse:
    can_manage = has_perm(request.user, Perm.ANALYTICS_MANAGE)
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise DjangoDenied(Perm.ANALYTICS_MANAGE)
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                services.update_settings(form.changes())
            except DomainError as exc:
                for name, problem in exc.fields.items():
                    form.add_error(name if name in form.fields else None, problem)
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Analytics settings saved; they apply from the next refresh."))
                return redirect("analytics:settings")
        status = 422
    else:
        form = SettingsForm(initial=SettingsForm.initial_from(config.current()))
    return render(request, "analytics/settings.html", {"form": form, "can_manage": can_manage}, status=status)


def _enqueue_refresh() -> None:
    tasks.refresh_metrics.enqueue()


@require_perm(Perm.ANALYTICS_VIEW)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = MetricsRun.objects.order_by("-started_at", "-pk")[:RUNS_SHOWN]
    context = {"runs": runs, "can_manage": has_perm(request.user, Perm.ANALYTICS_MANAGE)}
    return render(request, "analytics/runs.html", context)


@require_POST
@require_perm(Perm.ANALYTICS_MANAGE)
def refresh_now(request: HttpRequest) -> HttpResponse:
    """Queue a refresh for the worker (a million members take a while; the page does not wait)."""
    if queries.refresh_in_progress():  # said at once; the job's start refuses a second run anyway
        messages.error(request, _("A metrics refresh is already running."))
    else:
        on_commit(_enqueue_refresh)
        messages.success(request, _("A refresh is queued; its run appears below when the worker starts it."))
    return redirect("analytics:runs")
