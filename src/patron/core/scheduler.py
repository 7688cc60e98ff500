"""Periodic jobs, enqueued exactly once per period.

Each app registers its jobs in `AppConfig.ready()`. The `scheduler` command asks every job for
its current period key (e.g. "2026-11-25" for a daily job, in the members' time zone) and
inserts a (job, period) row; only the scheduler whose insert succeeds enqueues the task, so two
schedulers running side by side still enqueue each period once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from patron.core import clock
from patron.core.events import on_commit
from patron.core.models import ScheduledRun

Cadence = Callable[[dt.datetime], str]


def hourly(at: dt.datetime) -> str:
    return at.astimezone(clock.member_zone()).strftime("%Y-%m-%dT%H")


def daily(at: dt.datetime) -> str:
    return at.astimezone(clock.member_zone()).strftime("%Y-%m-%d")


def monthly(at: dt.datetime) -> str:
    return at.astimezone(clock.member_zone()).strftime("%Y-%m")


@dataclass(frozen=True)
class Job:
    name: str
    cadence: Cadence
    task: Any  # a django_tasks Task taking no arguments


_jobs: dict[str, Job] = {}


def register(name: str, cadence: Cadence, task: Any) -> None:
    _jobs[name] = Job(name, cadence, task)


def jobs() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: j.name)


def run_due_jobs(at: dt.datetime | None = None) -> list[tuple[str, str]]:
    """Enqueue every job whose current period has no row yet. Returns what this call enqueued."""
    at = at or clock.now()
    enqueued = []
    for job in jobs():
        period = job.cadence(at)
        if _claim_period(job, period, at):
            enqueued.append((job.name, period))
    return enqueued


def _claim_period(job: Job, period: str, at: dt.datetime) -> bool:
    try:
        with transaction.atomic():
            run = ScheduledRun.objects.create(job=job.name, period=period, enqueued_at=at)
            on_commit(lambda: _enqueue(job, run.pk))
    except IntegrityError:
        return False
    return True


def _enqueue(job: Job, run_pk: int) -> None:
    result = job.task.enqueue()
    ScheduledRun.objects.filter(pk=run_pk).update(task_result_id=str(result.id))
