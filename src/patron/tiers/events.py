"""What happened to members' tiers, for messaging and campaigns to react to (after commit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from patron.core.events import DomainEvent


@dataclass(frozen=True)
class TierUpgraded(DomainEvent):
    member_id: int
    from_tier: str
    to_tier: str
    reason: str  # rule, review, manual, override_ended, go_live
    at: dt.datetime


@dataclass(frozen=True)
class TierDowngraded(DomainEvent):
    member_id: int
    from_tier: str
    to_tier: str
    reason: str  # review, grace, refund, manual, override_ended, go_live
    at: dt.datetime


@dataclass(frozen=True)
class TierAtRisk(DomainEvent):
    """A review in `days_left` days would move the member down to `would_be` unless they qualify."""

    member_id: int
    tier: str
    would_be: str
    review_on: dt.date
    days_left: int


@dataclass(frozen=True)
class TierModelWentLive(DomainEvent):
    model_id: int
    previous_id: int | None
