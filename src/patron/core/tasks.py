"""Housekeeping jobs of the kernel."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django_tasks import task

from patron.core import clock
from patron.core.models import IdempotencyRecord, LoginAttempt

IDEMPOTENCY_RETENTION = dt.timedelta(days=7)


@task()
def prune_idempotency_keys() -> int:
    """Idempotency keys are kept a week; external ids keep guarding sales after that."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=clock.now() - IDEMPOTENCY_RETENTION).delete()
    return deleted


@task()
def prune_login_attempts() -> int:
    cutoff = clock.now() - dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES * 4)
    deleted, _ = LoginAttempt.objects.filter(at__lt=cutoff).delete()
    return deleted
