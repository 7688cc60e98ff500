"""URLs of the segment pages (`views_segments`); the dashboard's are in `urls_dashboard`."""

from django.urls import path

from patron.analytics import views_segments as v
from patron.analytics import views_settings

app_name = "analytics"
urlpatterns = [
    path("analytics/segments/", v.segment_list, name="segments"),
    path("analytics/segments/new/", v.segment_new, name="segment_new"),
    path("analytics/segments/count/", v.segment_count, name="segment_count"),
    path("analytics/segments/<int:pk>/", v.segment_detail, name="segment"),
    path("analytics/segments/<int:pk>/snapshot/", v.segment_snapshot, name="segment_snapshot"),
    path("analytics/segments/<int:pk>/archive/", v.segment_archive, name="segment_archive"),
    path("analytics/segments/<int:pk>/export/", v.segment_export, name="segment_export"),
    path("analytics/snapshots/<int:pk>/", v.snapshot_detail, name="snapshot"),
    path("analytics/snapshots/<int:pk>/export/", v.snapshot_export, name="snapshot_export"),
    path("analytics/snapshots/<int:pk>/coupons/", v.snapshot_coupons, name="snapshot_coupons"),
    path("analytics/settings/", views_settings.settings_page, name="settings"),
    path("analytics/runs/", views_settings.run_list, name="runs"),
    path("analytics/runs/refresh/", views_settings.refresh_now, name="refresh"),
]
