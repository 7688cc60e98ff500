"""Housekeeping jobs of the API app."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from patron.api.models import UsedNonce
from patron.api.services import NONCE_RETENTION_SECONDS
from patron.core import clock


def every_ten_minutes(at: dt.datetime) -> str:
    """A scheduler cadence: one period per ten minutes of UTC time."""
    at = at.astimezone(dt.UTC)
    return f"{at:%Y-%m-%dT%H}:{at.minute // 10}0"


@task()
def prune_used_nonces() -> int:
    """Nonces are needed only while a request signed with them could still be on time."""
    cutoff = clock.now() - dt.timedelta(seconds=NONCE_RETENTION_SECONDS)
    deleted, _ = UsedNonce.objects.filter(seen_at__lt=cutoff).delete()
    return deleted
