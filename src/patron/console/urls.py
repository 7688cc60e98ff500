from django.urls import path

from patron.console import views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("settings/api-keys/", views.apikey_list, name="apikey_list"),
    path("settings/api-keys/<int:pk>/revoke/", views.apikey_revoke, name="apikey_revoke"),
    path("audit/", views.audit_log, name="audit_log"),
]
