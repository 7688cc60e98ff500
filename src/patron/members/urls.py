from patron.members import views, views_import

app_name = "members"
urlpatterns = views.urlpatterns + views_import.urlpatterns
