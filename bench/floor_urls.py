"""URLs and the WSGI app for floor_app's Django view (DJANGO_SETTINGS_MODULE=floor_django): the floor's
`POST /api/v1/pos/sales` and `/health`. Not part of the product."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "floor_django")
application = get_wsgi_application()

from django.urls import path  # noqa: E402 - after setup, as URLconfs are
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from floor_app import SALES_PATH, django_view  # noqa: E402

from patron.core.views import health  # noqa: E402

urlpatterns = [path("health", health), path(SALES_PATH.lstrip("/"), csrf_exempt(django_view))]
