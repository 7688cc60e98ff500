"""Console shell views: sign in/out, dashboard, API keys, audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.api.models import ApiKey, Scope
from patron.api.services import do_issue_api_key, do_revoke_api_key
from patron.console import services
from patron.core.errors import DomainError
from patron.core.middleware import client_ip
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, require_perm
from patron.members.models import JoinChannel, Store
from patron.members.queries import dashboard_counts, paginate


def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    context = {"next": next_url, "username": "", "failed": False, "locked": False,
               "minutes": settings.LOGIN_LOCKOUT_MINUTES}
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
    by_channel = [{"label": labels.get(r["join_channel"], r["join_channel"]), "n": r["n"]} for r in counts["by_channel"]]
    return render(request, "console/dashboard.html", {"counts": counts, "by_channel": by_channel})


@require_perm(Perm.APIKEYS_MANAGE)
def apikey_list(request: HttpRequest) -> HttpResponse:
    plain = None
    if request.method == "POST":
        store = Store.objects.filter(code=request.POST.get("store", "")).first()
        try:
            key, plain = do_issue_api_key(name=request.POST.get("name", ""), scopes=request.POST.getlist("scopes"),
                                          store=store)
            messages.success(request, _("Key %(name)s created. Copy it now: it is not shown again.") % {"name": key.name})
        except DomainError as exc:
            messages.error(request, exc.message)
    keys = ApiKey.objects.select_related("store").order_by("-created_at")
    return render(request, "console/apikeys.html", {"keys": keys, "plain": plain, "scopes": Scope.choices,
                                                    "stores": Store.objects.filter(is_active=True)})


@require_POST
@require_perm(Perm.APIKEYS_MANAGE)
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    do_revoke_api_key(key=get_object_or_404(ApiKey, pk=pk))
    messages.success(request, _("Key revoked."))
    return redirect("console:apikey_list")


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
