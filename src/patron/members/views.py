"""Console pages of the member registry (filled in by the console-pages work)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
