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

from django.db import connection

from patron.core.db import insert_values, saved
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


def write(
    journal: Journal,
    postings: dict[int, int],
    balances: dict[int, int],
    lot_moves: list[tuple[Lot, int]],
    new_lots: list[Lot],
) -> None:
    """Write it all; `journal` and `new_lots` get their ids and the lots their journal."""
    by_lot: dict[int, int] = defaultdict(int)  # a lot moved twice by one journal is updated once
    for lot, amount in lot_moves:
        by_lot[lot.pk] += amount
    if connection.vendor == "postgresql":
        _write_in_one_statement(journal, postings, balances, by_lot, lot_moves, new_lots)
    else:
        _write_statements(journal, postings, balances, by_lot, lot_moves, new_lots)
    for lot in new_lots:
        lot.journal = journal


def _write_statements(
    journal: Journal,
    postings: dict[int, int],
    balances: dict[int, int],
    by_lot: dict[int, int],
    lot_moves: list[tuple[Lot, int]],
    new_lots: list[Lot],
) -> None:
    columns, values = insert_values(journal)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO ledger_journal ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(values))}) "
            "RETURNING id",
            values,
        )
        saved(journal, cursor.fetchone()[0])
        cursor.executemany(
            "INSERT INTO ledger_posting (journal_id, account_id, amount) VALUES (%s, %s, %s)",
            [(journal.pk, account, amount) for account, amount in postings.items()],
        )
        cursor.executemany(
            "UPDATE ledger_account SET balance = balance + %s WHERE id = %s",
            [(amount, account) for account, amount in balances.items()],
        )
        cursor.executemany(
            "UPDATE ledger_lot SET remaining = remaining + %s WHERE id = %s",
            [(amount, lot) for lot, amount in by_lot.items()],
        )
        cursor.executemany(
            "INSERT INTO ledger_lotmove (lot_id, journal_id, amount) VALUES (%s, %s, %s)",
            [(lot.pk, journal.pk, amount) for lot, amount in lot_moves],
        )
        for lot in new_lots:
            lot.journal = journal
            lot_columns, lot_values = insert_values(lot)
            cursor.execute(
                f"INSERT INTO ledger_lot ({', '.join(lot_columns)}) VALUES ({', '.join(['%s'] * len(lot_values))}) "
                "RETURNING id",
                lot_values,
            )
            saved(lot, cursor.fetchone()[0])


def _write_in_one_statement(
    journal: Journal,
    postings: dict[int, int],
    balances: dict[int, int],
    by_lot: dict[int, int],
    lot_moves: list[tuple[Lot, int]],
    new_lots: list[Lot],
) -> None:
    columns, values = insert_values(journal)
    params = [
        *values,
        list(postings),
        list(postings.values()),
        list(balances),
        list(balances.values()),
        list(by_lot),
        list(by_lot.values()),
        [lot.pk for lot, _amount in lot_moves],
        [amount for _lot, amount in lot_moves],
        *([getattr(lot, name) for lot in new_lots] for name, _kind in _LOT_COLUMNS),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statement(columns), params)
        journal_id, lot_ids = cursor.fetchone()
    saved(journal, journal_id)
    for lot, pk in zip(new_lots, lot_ids, strict=True):
        saved(lot, pk)
