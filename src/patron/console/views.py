"""Console shell views: sign in/out, dashboard, audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from patron.console import services
from patron.core.middleware import client_ip
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, require_perm
from patron.members.models import JoinChannel
from patron.members.queries import dashboard_counts, paginate


def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    context = {
        "next": next_url,
        "username": "",
        "failed": False,
        "locked": False,
        "minutes": settings.LOGIN_LOCKOUT_MINUTES,
    }
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        context["username"] = username
        ip = client_ip(request)
        if services.is_locked_out(username, ip):
            context["locked"] = True
            return render(request, "console/login.html", context, status=429)
        user = authenticate(request, username=username, password=request.POST.get("password", ""))
        if user is None:
            services.record_failure(username, ip)
            context["failed"] = True
            return render(request, "console/login.html", context, status=401)
        services.clear_failures(username)
        login(request, user)
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            next_url = ""
        return redirect(next_url or "console:dashboard")
    return render(request, "console/login.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("console:login")


@require_perm(Perm.DASHBOARD_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = dashboard_counts()
    labels = dict(JoinChannel.choices)
    by_channel = [
        {"label": labels.get(r["join_channel"], r["join_channel"]), "n": r["n"]} for r in counts["by_channel"]
    ]
    return render(request, "console/dashboard.html", {"counts": counts, "by_channel": by_channel})


@require_perm(Perm.AUDIT_VIEW)
def audit_log(request: HttpRequest) -> HttpResponse:
    qs = AuditEntry.objects.all()
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    obj = request.GET.get("object", "").strip()
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor_label__startswith=actor)
    if obj:
        qs = qs.filter(object_id=obj)
    page = paginate(qs, int(request.GET.get("page", "1") or 1), 50)
    return render(request, "console/audit.html", {"page": page, "action": action, "actor": actor, "object": obj})
