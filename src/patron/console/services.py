"""Login protection: too many failures for a username or an address lock it out for a while."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.models import LoginAttempt


def is_locked_out(username: str, ip: str | None) -> bool:
    since = clock.now() - dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    by_name = LoginAttempt.objects.filter(username=username.lower(), at__gte=since).count()
    by_ip = LoginAttempt.objects.filter(ip=ip, at__gte=since).count() if ip else 0
    # An address gets more room than one username: an office shares one address.
    return by_name >= settings.LOGIN_MAX_FAILURES or by_ip >= settings.LOGIN_MAX_FAILURES * 4


def record_failure(username: str, ip: str | None) -> None:
    LoginAttempt.objects.create(username=username.lower(), ip=ip, at=clock.now())
    record_audit("login.failed", object_type="user", object_id=username[:64])


def clear_failures(username: str) -> None:
    LoginAttempt.objects.filter(Q(username=username.lower())).delete()
