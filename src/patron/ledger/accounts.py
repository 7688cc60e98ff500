"""Finding accounts, and the member balances a journal starts from (`ledger.posting` moves them).

Program accounts (one per kind and point type) never change once made, so their ids are cached
in the process, but only after the transaction that created them commits. A member's accounts are
read in one query the first time a journal needs them; the member row is locked by then, so the
balances read are current.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from patron.ledger.models import MEMBER_KINDS, Account, AccountKind

_program: dict[tuple[str, str], int] = {}
_COLUMNS = ("pk", "kind", "point_type", "balance")
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _program.clear()


def program_account(kind: str, point_type: str) -> int:
    key = (kind, point_type)
    cached = _program.get(key)
    if cached is not None:
        return cached
    account_id = _get_or_create(None, kind, point_type)

    def remember() -> None:
        with _lock:
            _program[key] = account_id

    transaction.on_commit(remember)
    return account_id


def _get_or_create(member_id: int | None, kind: str, point_type: str) -> int:
    owner = {"member_id": member_id} if member_id is not None else {"member__isnull": True}
    found = Account.objects.filter(**owner, kind=kind, point_type=point_type).values_list("pk", flat=True)
    if found:
        return found[0]
    try:
        with transaction.atomic():
            return Account.objects.create(member_id=member_id, kind=kind, point_type=point_type).pk
    except IntegrityError:  # made by a concurrent transaction (program accounts only: members are locked)
        return Account.objects.get(**owner, kind=kind, point_type=point_type).pk


class MemberAccounts:
    """A locked member's accounts, loaded once per journal."""

    def __init__(self, member_id: int, rows: list[tuple[int, str, str, int]] | None = None) -> None:
        self.member_id = member_id
        self.ids: dict[tuple[str, str], int] = {}
        self.balances: dict[tuple[str, str], int] = {}
        if rows is None:
            rows = list(Account.objects.filter(member_id=member_id).values_list(*_COLUMNS))
        for pk, kind, point_type, balance in rows:
            self.ids[(kind, point_type)] = pk
            self.balances[(kind, point_type)] = balance

    @classmethod
    def of_members(cls, member_ids: list[int]) -> dict[int, MemberAccounts]:
        """The accounts of many locked members, in one query (the nightly jobs work in batches)."""
        rows: dict[int, list[tuple[int, str, str, int]]] = {pk: [] for pk in member_ids}
        for member_id, *row in Account.objects.filter(member_id__in=member_ids).values_list("member_id", *_COLUMNS):
            rows[member_id].append(tuple(row))  # type: ignore[arg-type]
        return {pk: cls(pk, found) for pk, found in rows.items()}

    def balance_rows(self, account_ids: Iterable[int]) -> list[Account]:
        """Unsaved rows carrying the balances these accounts have now, for one bulk update."""
        by_id = {pk: self.balances[key] for key, pk in self.ids.items()}
        return [Account(pk=pk, balance=by_id[pk]) for pk in account_ids]

    def id_for(self, kind: str, point_type: str) -> int:
        key = (kind, point_type)
        if key not in self.ids:
            # The member row is locked and every account of theirs was read under the lock, so
            # nobody else can be creating this one: insert it without a look-up or a savepoint.
            self.ids[key] = Account.objects.create(member_id=self.member_id, kind=kind, point_type=point_type).pk
            self.balances[key] = 0
        return self.ids[key]

    def debts(self) -> list[tuple[str, int]]:
        """(point type, points owed) for each debt account in the red."""
        return [
            (point_type, -balance)
            for (kind, point_type), balance in sorted(self.balances.items())
            if kind == AccountKind.DEBT and balance < 0
        ]


def is_member_kind(kind: str) -> bool:
    return kind in MEMBER_KINDS
