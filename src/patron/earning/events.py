"""What happened in earning, for apps above to react to (after commit)."""

from __future__ import annotations

from dataclasses import dataclass

from patron.core.events import DomainEvent


@dataclass(frozen=True)
class EarningRuleChanged(DomainEvent):
    """A rule was created, edited, enabled or disabled."""

    rule_id: int
    action: str  # created, updated, enabled, disabled


@dataclass(frozen=True)
class ActivityAwarded(DomainEvent):
    award_id: int
    member_id: int
    activity: str
    points: int
    reference: str
