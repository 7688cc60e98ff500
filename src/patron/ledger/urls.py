from django.urls import path

from patron.ledger import views

app_name = "ledger"
urlpatterns = [
    path("members/<int:pk>/points/", views.member_points, name="member_points"),
    path("members/<int:pk>/points/adjust/", views.adjust, name="adjust"),
    path("members/<int:pk>/points/statement/", views.statement, name="statement"),
    path("points/holds/<int:pk>/void/", views.void_hold, name="void_hold"),
    path("points/approvals/", views.approvals, name="approvals"),
    path("points/approvals/<int:pk>/approve/", views.approve, name="approve"),
    path("points/approvals/<int:pk>/reject/", views.reject, name="reject"),
    path("points/program/", views.program_settings, name="program"),
    path("points/finance/", views.finance, name="finance"),
    path("points/finance/export/", views.finance_export, name="finance_export"),
    path("points/finance/audit/", views.run_audit, name="run_audit"),
]
