"""URLs of the simulator pages (`views_simulations`)."""

from django.urls import path

from patron.tiers.views_simulations import simulation_compare, simulation_detail, simulation_export, simulation_list

app_name = "tiers_sim"
urlpatterns = [
    path("tiers/simulations/", simulation_list, name="simulations"),
    path("tiers/simulations/compare/", simulation_compare, name="compare"),
    path("tiers/simulations/<int:pk>/", simulation_detail, name="simulation"),
    path("tiers/simulations/<int:pk>/export.xlsx", simulation_export, name="export"),
]
