"""Statements the ORM does not write in one round trip, for the hot paths (ADR 0008), and the
planner statistics after a bulk load."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model


def insert_values(obj: Model) -> tuple[list[str], list[Any]]:
    """The quoted columns and database values an INSERT of `obj` writes, as the ORM prepares them
    (its primary key left to the database when unset)."""
    fields = [f for f in obj._meta.concrete_fields if not (f.primary_key and getattr(obj, f.attname) is None)]
    q = connection.ops.quote_name
    return [q(str(f.column)) for f in fields], [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def saved(obj: Model, pk: Any) -> None:
    """Mark `obj`, inserted by a statement of ours, as the row with primary key `pk`."""
    obj.pk = pk
    obj._state.adding, obj._state.db = False, connection.alias


def insert_sql(obj: Model, suffix: str = "") -> tuple[str, list[Any]]:
    """`INSERT INTO <table> (<columns>) VALUES (…) <suffix>` for `obj`, with its values."""
    columns, values = insert_values(obj)
    table = connection.ops.quote_name(obj._meta.db_table)
    placeholders = ", ".join(["%s"] * len(values))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) {suffix}", values


def insert_or_nothing(obj: Model, conflict: Sequence[str]) -> bool:
    """Insert `obj` unless a row with the same `conflict` fields exists: one
    `INSERT … ON CONFLICT (…) DO NOTHING RETURNING` statement, and no savepoint, because a conflict
    cannot spoil the caller's transaction. Returns True with `obj.pk` set when the row was inserted.
    On PostgreSQL a concurrent insert of the same key is waited for: False once it has committed,
    True (ours inserted) if it rolled back."""
    meta = obj._meta
    q = connection.ops.quote_name
    keys = ", ".join(q(str(meta.get_field(name).column)) for name in conflict)  # type: ignore[union-attr]
    sql, values = insert_sql(obj, f"ON CONFLICT ({keys}) DO NOTHING RETURNING {q(str(meta.pk.column))}")
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    saved(obj, row[0])
    return True


def remember_related(obj: Model, name: str, rows: list[Any]) -> None:
    """Give `obj.<name>.all()` the rows just written, the way prefetch_related would, instead of a
    query for what is already in hand."""
    cached = getattr(obj, name).all()  # not evaluated: a queryset to hold the rows
    cached._result_cache, cached._prefetch_done = rows, True
    obj.__dict__.setdefault("_prefetched_objects_cache", {})[name] = cached


def add_remembered(obj: Model, name: str, row: Any) -> None:
    """Add a row just written to what `remember_related` holds for `obj.<name>`, if it holds it."""
    cached = obj.__dict__.get("_prefetched_objects_cache", {}).get(name)
    if cached is not None:
        cached._result_cache.append(row)


def refresh_planner_statistics() -> None:
    """ANALYZE every table, after a bulk load. SQLite never gathers statistics on its own, and
    PostgreSQL's autovacuum does so only later (or never, where it is off): until then both plan
    from what an empty database looked like (bench/bench_dashboard.py: the KPI dashboard at 1M
    members took twice as long on PostgreSQL before ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
