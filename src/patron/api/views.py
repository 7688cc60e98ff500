"""Console page for API keys (it belongs to the API app; the console shell only links to it)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.api.models import ApiKey, Scope
from patron.api.services import do_issue_api_key, do_revoke_api_key
from patron.core.errors import DomainError
from patron.core.permissions import Perm, require_perm
from patron.members.models import Store


@require_perm(Perm.APIKEYS_MANAGE)
def apikey_list(request: HttpRequest) -> HttpResponse:
    plain = None
    if request.method == "POST":
        store = Store.objects.filter(code=request.POST.get("store", "")).first()
        try:
            key, plain = do_issue_api_key(
                name=request.POST.get("name", ""), scopes=request.POST.getlist("scopes"), store=store
            )
            messages.success(
                request, _("Key %(name)s created. Copy it now: it is not shown again.") % {"name": key.name}
            )
        except DomainError as exc:
            messages.error(request, exc.message)
    keys = ApiKey.objects.select_related("store").order_by("-created_at")
    context = {"keys": keys, "plain": plain, "scopes": Scope.choices, "stores": Store.objects.filter(is_active=True)}
    return render(request, "api/apikeys.html", context)


@require_POST
@require_perm(Perm.APIKEYS_MANAGE)
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    do_revoke_api_key(key=get_object_or_404(ApiKey, pk=pk))
    messages.success(request, _("Key revoked."))
    return redirect("apikeys:list")


app_name = "apikeys"
urlpatterns = [
    path("settings/api-keys/", apikey_list, name="list"),
    path("settings/api-keys/<int:pk>/revoke/", apikey_revoke, name="revoke"),
]
