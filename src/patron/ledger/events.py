"""What happened to points, for other apps to react to (after commit)."""

from __future__ import annotations

from dataclasses import dataclass

from patron.core.events import DomainEvent


@dataclass(frozen=True)
class PointsPosted(DomainEvent):
    """Any journal: earned, redeemed, held, expired, adjusted, taken back or returned."""

    journal_id: int
    member_id: int
    kind: str
    points: int


@dataclass(frozen=True)
class AdjustmentAwaitingApproval(DomainEvent):
    adjustment_id: int
    member_id: int
    points: int
