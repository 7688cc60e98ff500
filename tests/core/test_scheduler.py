"""Periodic jobs: each (job, period) is enqueued exactly once."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from patron.core import clock, scheduler
from patron.core.models import ScheduledRun

pytestmark = pytest.mark.django_db(transaction=True)

# 2026-11-25 15:30 UTC is 23:30 in Shanghai; an hour later it is the 26th there.
LATE = dt.datetime(2026, 11, 25, 15, 30, tzinfo=dt.UTC)
NEXT_DAY = LATE + dt.timedelta(hours=1)


def _names(enqueued):
    return sorted(name for name, _period in enqueued)


def test_cadences_use_the_member_time_zone():
    assert scheduler.daily(LATE) == "2026-11-25"
    assert scheduler.daily(NEXT_DAY) == "2026-11-26"
    assert scheduler.hourly(LATE) == "2026-11-25T23"
    assert scheduler.monthly(dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)) == "2026-12"


def test_kernel_jobs_are_registered():
    names = {job.name for job in scheduler.jobs()}
    assert {"core.prune_idempotency_keys", "core.prune_login_attempts"} <= names


def test_run_due_jobs_enqueues_each_job_once_per_period_even_when_called_twice():
    with clock.frozen(LATE):
        first = scheduler.run_due_jobs()
        second = scheduler.run_due_jobs()
    assert _names(first) == sorted(job.name for job in scheduler.jobs())
    assert ("core.prune_idempotency_keys", "2026-11-25") in first
    assert second == []
    assert ScheduledRun.objects.count() == len(first)
    # The immediate backend ran the task; its result id was written back after commit.
    assert all(run.task_result_id for run in ScheduledRun.objects.all())


def test_next_day_enqueues_the_daily_job_again_and_only_once():
    with clock.frozen(LATE):
        scheduler.run_due_jobs()
    with clock.frozen(NEXT_DAY):
        again = scheduler.run_due_jobs()
        twice = scheduler.run_due_jobs()
    assert ("core.prune_idempotency_keys", "2026-11-26") in again
    assert ("core.prune_login_attempts", "2026-11-26T00") in again
    assert twice == []
    assert ScheduledRun.objects.filter(job="core.prune_idempotency_keys").count() == 2
    assert set(ScheduledRun.objects.filter(job="core.prune_idempotency_keys").values_list("period", flat=True)) == {
        "2026-11-25",
        "2026-11-26",
    }


def test_run_due_jobs_accepts_an_explicit_time():
    enqueued = scheduler.run_due_jobs(at=LATE)
    assert ("core.prune_idempotency_keys", "2026-11-25") in enqueued
    assert scheduler.run_due_jobs(at=LATE + dt.timedelta(minutes=5)) == []


def test_scheduler_command_once_enqueues_and_reports_then_exits():
    out = StringIO()
    with clock.frozen(LATE):
        call_command("scheduler", "--once", stdout=out)
        call_command("scheduler", "--once", stdout=(out2 := StringIO()))
    assert "enqueued core.prune_idempotency_keys for 2026-11-25" in out.getvalue()
    assert "enqueued core.prune_login_attempts for 2026-11-25T23" in out.getvalue()
    assert out2.getvalue() == ""


def test_prune_idempotency_task_deletes_keys_older_than_a_week():
    from patron.core.models import IdempotencyRecord
    from patron.core.tasks import prune_idempotency_keys

    IdempotencyRecord.objects.create(scope="s", key="old", request_hash="h", created_at=LATE - dt.timedelta(days=8))
    IdempotencyRecord.objects.create(scope="s", key="new", request_hash="h", created_at=LATE - dt.timedelta(days=6))
    with clock.frozen(LATE):
        result = prune_idempotency_keys.enqueue()
    assert result.return_value == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
