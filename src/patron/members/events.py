"""What happened to members, for other apps to react to (after commit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from patron.core.events import DomainEvent


@dataclass(frozen=True)
class MemberJoined(DomainEvent):
    member_id: int
    store_id: int | None
    channel: str
    referrer_id: int | None


@dataclass(frozen=True)
class MemberActivated(DomainEvent):
    member_id: int
    route: str


@dataclass(frozen=True)
class MemberStatusChanged(DomainEvent):
    member_id: int
    old: str
    new: str


@dataclass(frozen=True)
class MemberProfileChanged(DomainEvent):
    member_id: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ConsentChanged(DomainEvent):
    member_id: int
    purpose: str
    granted: bool


@dataclass(frozen=True)
class MemberTagged(DomainEvent):
    member_id: int
    tag: str
    source: str


@dataclass(frozen=True)
class MembersMerged(DomainEvent):
    survivor_id: int
    absorbed_id: int
    merge_id: int


@dataclass(frozen=True)
class MergeUndone(DomainEvent):
    survivor_id: int
    absorbed_id: int
    merge_id: int


@dataclass(frozen=True)
class TransactionRecorded(DomainEvent):
    transaction_id: int
    member_id: int
    store_id: int
    kind: str
    amount: Decimal
    currency: str
    occurred_at: dt.datetime
    original_id: int | None
