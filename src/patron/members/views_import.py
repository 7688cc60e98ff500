"""Console pages for import and export (filled in by the import work)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
