"""The tiers app's background jobs: the daily review, re-evaluation after a model goes live, and
simulations."""

from __future__ import annotations

from django_tasks import task

from patron.tiers import services


@task()
def review_tiers() -> int:
    return services.run_reviews()


@task()
def reevaluate_members(model_id: int) -> int:
    return services.reevaluate_members(model_id)


@task()
def run_simulation(simulation_id: int) -> int:
    return services.run_simulation(simulation_id).pk
