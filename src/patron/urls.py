from django.contrib import admin
from django.urls import include, path

from patron.api.urls import api
from patron.core.views import health

urlpatterns = [
    path("health", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("patron.members.urls")),
    path("", include("patron.api.views")),
    path("", include("patron.console.urls")),
]
