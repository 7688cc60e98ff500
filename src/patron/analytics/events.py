"""What the analytics job noticed, for journeys (win-back, reminders) to react to after commit.
Each is published once per churn episode, on the run that opens it."""

from __future__ import annotations

from dataclasses import dataclass

from patron.core.events import DomainEvent


@dataclass(frozen=True)
class MemberOverdue(DomainEvent):
    """Silent for longer than the member's own usual interval between purchases allows."""

    member_id: int
    episode_id: int
    usual_days: float  # the median interval
    silent_days: int


@dataclass(frozen=True)
class MemberWentCold(DomainEvent):
    """The recent purchase rate fell well under the member's own earlier rate."""

    member_id: int
    episode_id: int
    recent_purchases: int
    earlier_purchases: int


@dataclass(frozen=True)
class MetricsRefreshed(DomainEvent):
    run_id: int
    as_of: str
    members: int


@dataclass(frozen=True)
class SegmentSnapshotTaken(DomainEvent):
    snapshot_id: int
    segment_id: int
    members: int
