"""The posting primitive's writes, in plain SQL (ADR 0008).

A journal, its postings, the member balances it moves, the lot remainders it changes, its lot
moves and its new lots. On PostgreSQL the six writes are chained in data-modifying CTEs, so a
till's earn costs one round trip; each part sees the journal's new id through the `j` CTE. SQLite
has no data-modifying CTEs, and a round trip there is a function call, so it gets the same writes
as fixed statements (which sqlite3 keeps prepared). Neither compiles ORM queries.

Every constraint and trigger applies as it does to the ORM's statements (a balance may not go
below zero, a lot's remainder stays within its amount); a violation fails the write.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection

from patron.core.db import insert_sql, insert_values, saved
from patron.ledger.models import Journal, Lot

# Columns of a new lot that the statement takes from arrays, in this order (the journal's id is
# filled in from `j`).
_LOT_COLUMNS = (
    ("member_id", "bigint"),
    ("point_type", "text"),
    ("transaction_id", "bigint"),
    ("amount", "bigint"),
    ("remaining", "bigint"),
    ("pending", "boolean"),
    ("available_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("earned_at", "timestamptz"),
)


def _statement(columns: list[str]) -> str:
    lot_arrays = ", ".join(f"%s::{kind}[]" for _name, kind in _LOT_COLUMNS)
    lot_names = ", ".join(name for name, _kind in _LOT_COLUMNS)
    lot_values = ", ".join(f"t.{name}" for name, _kind in _LOT_COLUMNS)
    return f"""
WITH j AS (
    INSERT INTO ledger_journal ({", ".join(columns)}) VALUES ({", ".join(["%s"] * len(columns))}) RETURNING id
), p AS (
    INSERT INTO ledger_posting (journal_id, account_id, amount)
    SELECT j.id, t.a, t.v FROM j, unnest(%s::bigint[], %s::bigint[]) AS t(a, v)
), b AS (
    UPDATE ledger_account AS x SET balance = x.balance + t.v
    FROM unnest(%s::bigint[], %s::bigint[]) AS t(a, v) WHERE x.id = t.a
), r AS (
    UPDATE ledger_lot AS x SET remaining = x.remaining + t.v
    FROM unnest(%s::bigint[], %s::bigint[]) AS t(a, v) WHERE x.id = t.a
), m AS (
    INSERT INTO ledger_lotmove (lot_id, journal_id, amount)
    SELECT t.a, j.id, t.v FROM j, unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS t(a, v, n) ORDER BY t.n
), l AS (
    INSERT INTO ledger_lot (journal_id, {lot_names})
    SELECT j.id, {lot_values}
    FROM j, unnest({lot_arrays}) WITH ORDINALITY AS t({lot_names}, n) ORDER BY t.n
    RETURNING id
)
SELECT j.id, ARRAY(SELECT id FROM l ORDER BY id) FROM j
"""


@dataclass(frozen=True)
class Writes:
    """What a journal writes besides its own row."""

    postings: dict[int, int]  # account id → signed amount; they sum to zero
    balances: dict[int, int]  # member account id → what its cached balance moves by
    lot_moves: list[tuple[Lot, int]]
    new_lots: list[Lot]

    def by_lot(self) -> dict[int, int]:
        """The remainder change per lot: a lot moved twice by one journal is updated once."""
        moved: dict[int, int] = defaultdict(int)
        for lot, amount in self.lot_moves:
            moved[lot.pk] += amount
        return moved


def write(journal: Journal, writes: Writes) -> None:
    """Write it all; `journal` and the new lots get their ids and the lots their journal."""
    if connection.vendor == "postgresql":
        _write_in_one_statement(journal, writes)
    else:
        _write_statements(journal, writes)
    for lot in writes.new_lots:
        lot.journal = journal


def _insert_returning_id(cursor: Any, obj: Journal | Lot) -> None:
    sql, values = insert_sql(obj, "RETURNING id")
    cursor.execute(sql, values)
    saved(obj, cursor.fetchone()[0])


def _write_statements(journal: Journal, writes: Writes) -> None:
    with connection.cursor() as cursor:
        _insert_returning_id(cursor, journal)
        cursor.executemany(
            "INSERT INTO ledger_posting (journal_id, account_id, amount) VALUES (%s, %s, %s)",
            [(journal.pk, account, amount) for account, amount in writes.postings.items()],
        )
        cursor.executemany(
            "UPDATE ledger_account SET balance = balance + %s WHERE id = %s",
            [(amount, account) for account, amount in writes.balances.items()],
        )
        cursor.executemany(
            "UPDATE ledger_lot SET remaining = remaining + %s WHERE id = %s",
            [(amount, lot) for lot, amount in writes.by_lot().items()],
        )
        cursor.executemany(
            "INSERT INTO ledger_lotmove (lot_id, journal_id, amount) VALUES (%s, %s, %s)",
            [(lot.pk, journal.pk, amount) for lot, amount in writes.lot_moves],
        )
        for lot in writes.new_lots:
            lot.journal = journal
            _insert_returning_id(cursor, lot)


def _write_in_one_statement(journal: Journal, writes: Writes) -> None:
    columns, values = insert_values(journal)
    by_lot, new_lots = writes.by_lot(), writes.new_lots
    params = [
        *values,
        list(writes.postings),
        list(writes.postings.values()),
        list(writes.balances),
        list(writes.balances.values()),
        list(by_lot),
        list(by_lot.values()),
        [lot.pk for lot, _amount in writes.lot_moves],
        [amount for _lot, amount in writes.lot_moves],
        *([getattr(lot, name) for lot in new_lots] for name, _kind in _LOT_COLUMNS),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statement(columns), params)
        journal_id, lot_ids = cursor.fetchone()
    saved(journal, journal_id)
    for lot, pk in zip(new_lots, lot_ids, strict=True):
        saved(lot, pk)
