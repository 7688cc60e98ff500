from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

from patron.api.urls import api
from patron.core.views import health


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Unknown paths under the API answer in the API's error shape, not with an HTML page."""
    return JsonResponse({"code": "not_found", "message": "No such API endpoint.", "fields": {}}, status=404)


urlpatterns = [
    path("health", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("", include("patron.members.urls")),
    path("", include("patron.ledger.urls")),
    path("", include("patron.earning.urls")),
    path("", include("patron.tiers.urls")),
    path("", include("patron.tiers.urls_simulations")),
    path("", include("patron.rewards.urls")),
    path("", include("patron.analytics.urls")),
    path("", include("patron.analytics.urls_dashboard")),
    path("", include("patron.api.views")),
    path("", include("patron.console.urls")),
]
