"""URLs of the KPI dashboard pages (`views_dashboard`)."""

from django.urls import path

from patron.analytics import views_dashboard

app_name = "kpi"
urlpatterns = [
    path("analytics/", views_dashboard.dashboard, name="dashboard"),
    path("analytics/export/", views_dashboard.export, name="export"),
]
