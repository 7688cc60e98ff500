"""Console page for API keys (it belongs to the API app; the console shell only links to it)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.api.models import ApiKey, Scope
from patron.api.services import do_issue_api_key, do_revoke_api_key, do_rotate_signing_secret
from patron.core.errors import DomainError
from patron.core.permissions import Perm, require_perm
from patron.members.models import Store


def _page(request: HttpRequest, **shown_once: object) -> HttpResponse:
    keys = ApiKey.objects.select_related("store").order_by("-created_at")
    context = {
        "keys": keys,
        "scopes": Scope.choices,
        "stores": Store.objects.filter(is_active=True),
        "plain": None,
        "signing_secret": None,
        "secret_for": None,
        **shown_once,
    }
    return render(request, "api/apikeys.html", context)


@require_perm(Perm.APIKEYS_MANAGE)
def apikey_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        store = Store.objects.filter(code=request.POST.get("store", "")).first()
        try:
            key, plain, signing_secret = do_issue_api_key(
                name=request.POST.get("name", ""), scopes=request.POST.getlist("scopes"), store=store
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Key %(name)s created. Copy it now: it is not shown again.") % {"name": key.name}
            )
            return _page(request, plain=plain, signing_secret=signing_secret, secret_for=key)
    return _page(request)


@require_POST
@require_perm(Perm.APIKEYS_MANAGE)
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    do_revoke_api_key(key=get_object_or_404(ApiKey, pk=pk))
    messages.success(request, _("Key revoked."))
    return redirect("apikeys:list")


@require_POST
@require_perm(Perm.APIKEYS_MANAGE)
def apikey_rotate_signing_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """The new secret is shown on this response only (like a new key): no redirect, no session copy."""
    key = get_object_or_404(ApiKey, pk=pk)
    try:
        signing_secret = do_rotate_signing_secret(key=key)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("apikeys:list")
    messages.success(
        request,
        _("New signing secret for %(name)s. Copy it now: it is not shown again; the old one no longer works.")
        % {"name": key.name},
    )
    return _page(request, signing_secret=signing_secret, secret_for=key)


app_name = "apikeys"
urlpatterns = [
    path("settings/api-keys/", apikey_list, name="list"),
    path("settings/api-keys/<int:pk>/revoke/", apikey_revoke, name="revoke"),
    path("settings/api-keys/<int:pk>/rotate-signing-secret/", apikey_rotate_signing_secret, name="rotate"),
]
