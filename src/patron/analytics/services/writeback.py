"""Writing a run's results: the metrics table replaced whole, lifecycle transitions and churn
episodes. Called inside the run's transaction by `refresh`."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection
from psycopg.copy import QueuedLibpqWriter

from patron.analytics.engines import Result
from patron.analytics.models import ChurnEpisode, MemberMetrics
from patron.analytics.scoring import Scores

CENT = pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))
CHUNK = 5000
COPY_SLICE = 50_000  # rows per piece of the metrics COPY

# Metrics table column <- batch column, by kind of conversion.
SAME = (
    "purchase_days",
    "receipts",
    "purchase_days_short",
    "purchase_days_medium",
    "purchase_days_long",
    "interval_mean",
    "interval_median",
    "interval_spread",
    "refunds",
    "recency_days",
    "rfm_frequency",
    "r_score",
    "f_score",
    "m_score",
    "overdue",
    "gone_cold",
    "cold_recent",
    "cold_base",
)
RENAMED = {"points_earned": "earned", "points_redeemed": "redeemed"}
MONEY = {
    "spend": "spend_cents",
    "spend_short": "spend_cents_short",
    "spend_medium": "spend_cents_medium",
    "spend_long": "spend_cents_long",
    "average_basket": "average_basket_cents",
    "refunded": "refund_cents",
    "rfm_monetary": "rfm_monetary",
}
DATES = {"first_purchase": "first_day", "last_purchase": "last_day"}
BLANK_WHEN_NULL = ("rfm_segment", "value_class", "lifecycle_stage")


def metrics_table(result: Result, scores: Scores, as_of: dt.date) -> pa.Table:
    """The rows to store, as Arrow with the table's column names and types."""
    m = result.metrics
    n = m.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "member_id": m["member_id"],
        "as_of": pa.array([as_of] * n, pa.date32()),
    }
    for name, source in DATES.items():
        columns[name] = pc.cast(m[source], pa.int32()).cast(pa.date32())
    for name in SAME:
        columns[name] = _no_nan(m[name])
    for name, source in RENAMED.items():
        columns[name] = m[source]
    for name, source in MONEY.items():
        columns[name] = money(m[source])
    for name in BLANK_WHEN_NULL:
        columns[name] = pc.fill_null(m[name], "")
    columns["categories"] = _categories_json(m["member_id"], result.categories)
    columns["p_alive"] = scores.p_alive
    columns["expected_purchases"] = scores.expected_purchases
    columns["expected_value"] = money(scores.expected_value_cents)
    columns["clv"] = money(scores.clv_cents)
    return pa.table(columns)


def money(cents: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.multiply(pc.cast(cents, pa.decimal128(19, 0)), CENT)


def _no_nan(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_floating(column.type):
        return pc.if_else(pc.is_nan(column), None, column)
    return column


def _categories_json(member_ids: pa.ChunkedArray, pairs: pa.Table) -> pa.ChunkedArray:
    """Each member's sorted categories as a JSON list, in the metrics' member order; "[]" for the
    many who bought none (JSON is written only for those who did)."""
    empty = pa.table({"member_id": member_ids})
    if pairs.num_rows == 0:
        return pa.chunked_array([pa.array(["[]"] * len(member_ids), pa.string())])
    lists = pairs.group_by("member_id", use_threads=False).aggregate([("category", "list")])
    texts = [json.dumps(sorted(c), ensure_ascii=False) for c in lists["category_list"].to_pylist()]
    by_member = pa.table({"member_id": lists["member_id"], "categories": pa.array(texts, pa.string())})
    joined = empty.join(by_member, "member_id", join_type="left outer").sort_by("member_id")
    return pc.fill_null(joined["categories"], "[]")


def replace_metrics(rows: pa.Table) -> None:
    table = MemberMetrics._meta.db_table
    names = ", ".join(rows.column_names)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # TRUNCATE inside the transaction: readers see the old rows until the commit, and no
            # million dead rows are left behind each night.
            cur.execute(f"TRUNCATE {table}")
            # In slices, handed to a writer thread: Arrow encodes the next slice (without the GIL)
            # while the server parses the last one, on the other core.
            statement = f"COPY {table} ({names}) FROM STDIN (FORMAT csv)"
            with cur.cursor.copy(statement, writer=QueuedLibpqWriter(cur.cursor)) as copy:
                for batch in rows.to_batches(COPY_SLICE):
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                    copy.write(buffer.getbuffer())
            return
        cur.execute(f"DELETE FROM {table}")
        marks = ", ".join(["%s"] * rows.num_columns)
        for chunk in _python_rows(rows):
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", chunk)


def _python_rows(rows: pa.Table, size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    for batch in rows.to_batches(size):
        columns = [_sqlite_values(batch.column(i)) for i in range(batch.num_columns)]
        yield list(zip(*columns, strict=True))


def _sqlite_values(column: pa.Array) -> list[Any]:
    values = column.to_pylist()
    if pa.types.is_decimal(column.type):
        return [None if v is None else str(v) for v in values]
    if pa.types.is_date(column.type):
        return [None if v is None else v.isoformat() for v in values]
    return values


class Opened(NamedTuple):
    """A churn episode opened by this run: what its event needs (lighter than a model instance,
    and a first night opens hundreds of thousands)."""

    pk: int
    member_id: int
    kind: str
    detail: dict[str, Any]


def insert_episodes(new: list[Opened], as_of: dt.date) -> list[Opened]:
    """The episodes opened today, given back with their ids. PostgreSQL takes them by COPY with ids
    drawn from the table's sequence beforehand, so nothing is read back; SQLite by bulk insert."""
    if not new:
        return []
    if connection.vendor != "postgresql":
        made = ChurnEpisode.objects.bulk_create(
            (ChurnEpisode(member_id=e.member_id, kind=e.kind, started_on=as_of, detail=e.detail) for e in new),
            batch_size=CHUNK,
        )
        return [e._replace(pk=m.pk) for e, m in zip(new, made, strict=True)]
    table = ChurnEpisode._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(new)])
        new = [e._replace(pk=pk) for e, (pk,) in zip(new, cur.fetchall(), strict=True)]
        with cur.cursor.copy(f"COPY {table} (id, member_id, kind, started_on, detail) FROM STDIN") as copy:
            for e in new:
                copy.write_row((e.pk, e.member_id, e.kind, as_of, json.dumps(e.detail)))
    return new


# How far below the highest id read a transaction may still have been uncommitted during the read
# (ids are drawn at insert, the commit comes a moment later): at 50 sales a second, 40 seconds.
UNREAD_REACH = 2000


def read_mark(txn_ids: pa.ChunkedArray) -> dict[str, Any]:
    """The highest transaction id the run read and the ids within reach below it that it did not."""
    if len(txn_ids) == 0:
        return {"upto": 0, "unread": []}
    upto = pc.max(txn_ids).as_py()
    floor = max(upto - UNREAD_REACH, 0)
    near = pc.filter(txn_ids, pc.greater(txn_ids, floor))
    seen = set(near.to_pylist())
    return {"upto": upto, "unread": [i for i in range(floor + 1, upto) if i not in seen]}


def lifecycle_changes(previous: pa.Table, current: pa.Table) -> list[tuple[int, str, str]]:
    """(member, from, to) for members whose stage changed since the last run; members new since then
    come from ''. Nothing on the first run."""
    if previous.num_rows == 0:
        return []
    before = previous.select(["member_id", "lifecycle_stage"]).rename_columns(["member_id", "was"])
    joined = current.select(["member_id", "lifecycle_stage"]).join(before, "member_id", join_type="left outer")
    was = pc.fill_null(joined["was"], "")
    moved = joined.filter(pc.not_equal(was, joined["lifecycle_stage"])).combine_chunks()
    moved_was = pc.fill_null(moved["was"], "")
    return list(
        zip(moved["member_id"].to_pylist(), moved_was.to_pylist(), moved["lifecycle_stage"].to_pylist(), strict=True)
    )
