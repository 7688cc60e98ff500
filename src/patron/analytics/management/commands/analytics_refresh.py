"""`patron analytics-refresh`: the nightly metrics refresh, now (what the scheduler's daily job runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from patron.analytics import engines, services
from patron.core.context import Actor, acting_as
from patron.core.errors import DomainError


class Command(BaseCommand):
    help = "Refresh every member's metrics, RFM, class, lifecycle stage, churn flags and CLV."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--engine", choices=engines.ENGINES, default="duckdb")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="the day to describe (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with acting_as(Actor(label="analytics-refresh")):
                run = services.refresh_metrics(as_of=options["as_of"], engine=options["engine"])
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        phases = ", ".join(f"{name} {s:.1f} s" for name, s in run.seconds.items())
        self.stdout.write(self.style.SUCCESS(f"{run.members:,} members as of {run.as_of} on {run.engine}: {phases}."))
