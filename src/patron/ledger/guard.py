"""Postings, journals and lot moves are append-only: triggers refuse UPDATE and DELETE.

On PostgreSQL the trigger always refuses (TRUNCATE, which the test suite uses to empty tables,
fires no row triggers). On SQLite the trigger asks a function that each connection registers:
it answers "refuse" unless a maintenance flag is set in this process, which only the test
suite's table flush sets. A connection that lacks the function (the sqlite3 shell) errors, which
refuses too.
"""

from __future__ import annotations

from typing import Any

APPEND_ONLY_TABLES = ("ledger_posting", "ledger_journal", "ledger_lotmove")

_maintenance = False


def set_maintenance(on: bool) -> None:
    global _maintenance
    _maintenance = on


def register_sqlite_function(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("patron_ledger_maintenance", 0, lambda: int(_maintenance))


def postgres_sql() -> list[str]:
    statements = [
        """
        CREATE OR REPLACE FUNCTION patron_ledger_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'ledger rows are append-only: %% on %% refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END;
        $$ LANGUAGE plpgsql;
        """
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION patron_ledger_append_only();"
        )
    return statements


def sqlite_sql() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                "WHEN patron_ledger_maintenance() = 0 "
                f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: {op} on {table} refused'); END;"
            )
    return statements
