"""What the rewards services share: refusals, local periods, the live tier codes."""

from __future__ import annotations

import datetime as dt
import logging

from patron.core import clock
from patron.core.errors import DomainError, ValidationFailed
from patron.rewards.errors import ErrorCode
from patron.rewards.models import LimitPeriod
from patron.tiers import services as tier_services

log = logging.getLogger(__name__)


class TooManyAttempts(DomainError):
    code = ErrorCode.TOO_MANY_ATTEMPTS
    status = 429


def refuse(code: str, message: str, /, **fields: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields=fields)


def local_period_start(at: dt.datetime, period: str) -> dt.datetime | None:
    """Start of the local day / month / year holding `at` (None for 'ever')."""
    local = at.astimezone(clock.member_zone())
    if period == LimitPeriod.DAY:
        first = local.date()
    elif period == LimitPeriod.MONTH:
        first = local.date().replace(day=1)
    elif period == LimitPeriod.YEAR:
        first = local.date().replace(month=1, day=1)
    else:
        return None
    return clock.local_midnight(first)


def tier_codes() -> list[str]:
    live = tier_services.live_model()
    return [t.code for t in live.config.tiers] if live else []
