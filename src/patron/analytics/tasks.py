"""The analytics app's background jobs: the nightly refresh (and one asked for from the console)."""

from __future__ import annotations

from django_tasks import task

from patron.analytics import services


@task()
def refresh_metrics(engine: str = "duckdb") -> int:
    return services.refresh_metrics(engine=engine).pk
