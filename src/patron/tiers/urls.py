from django.urls import path

from patron.tiers import views

app_name = "tiers"
urlpatterns = [
    path("tiers/", views.model_list, name="list"),
    path("tiers/new/", views.model_new, name="new"),
    path("tiers/presets/", views.preset_list, name="presets"),
    path("tiers/presets/<slug:key>/", views.model_from_preset, name="from_preset"),
    path("tiers/report/", views.report, name="report"),
    path("tiers/<int:pk>/", views.model_edit, name="edit"),
    path("tiers/<int:pk>/copy/", views.model_copy, name="copy"),
    path("tiers/<int:pk>/go-live/", views.model_go_live, name="go_live"),
    path("members/<int:pk>/tier/", views.member_tier, name="member"),
    path("members/<int:pk>/tier/override/", views.set_override, name="override"),
    path("members/<int:pk>/tier/override/end/", views.end_override, name="end_override"),
]
