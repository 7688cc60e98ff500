from django.urls import path

from patron.earning import views

app_name = "earning"
urlpatterns = [
    path("points/rules/", views.rule_list, name="list"),
    path("points/rules/preview/", views.preview, name="preview"),
    path("points/rules/new/", views.rule_new, name="new"),
    path("points/rules/presets/", views.preset_list, name="presets"),
    path("points/rules/presets/<slug:key>/", views.rule_from_preset, name="from_preset"),
    path("points/rules/<int:pk>/", views.rule_edit, name="edit"),
    path("points/rules/<int:pk>/switch/", views.rule_switch, name="switch"),
]
