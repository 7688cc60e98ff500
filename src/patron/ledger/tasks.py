"""The ledger's scheduled jobs: release pending points, expire lots, expire holds."""

from __future__ import annotations

from django_tasks import task

from patron.ledger import services


@task()
def release_pending_points() -> int:
    return services.run_release()


@task()
def expire_points() -> int:
    return services.run_expiry()


@task()
def expire_holds() -> int:
    return services.expire_holds()
