"""Where the batch expressions run (ADR 0012).

- `duckdb` (the default): the inputs are read from the database as Arrow (PostgreSQL by COPY,
  SQLite through its cursor) and the expressions run in an in-process DuckDB.
- `postgres`: the same expressions compiled to SQL and run inside PostgreSQL itself, over the same
  source queries.
- `spark`: the same expressions on Apache Spark (PySpark, here in local mode), fed the Arrow inputs;
  a chain that outgrows one machine points it at its cluster instead.

Every engine gets the inputs with the same columns (`batch` says which) and returns Arrow.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection

from patron.analytics import batch
from patron.ledger.models import Account, Journal, Posting
from patron.members.models import LIVE_STATUSES, Member, Transaction, TransactionLine

ENGINES = ("duckdb", "postgres", "spark")

SCHEMAS = {
    "purchases": pa.schema(
        [
            ("txn_id", pa.int64()),
            ("member_id", pa.int64()),
            ("ts", pa.int64()),
            ("kind", pa.string()),
            ("cents", pa.int64()),
        ]
    ),
    "members": pa.schema([("member_id", pa.int64()), ("joined_ts", pa.int64())]),
    "points": pa.schema([("member_id", pa.int64()), ("earned", pa.int64()), ("redeemed", pa.int64())]),
    "lines": pa.schema([("member_id", pa.int64()), ("ts", pa.int64()), ("category", pa.string())]),
}


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def _cents(column: str) -> str:
    return f"CAST(ROUND({column} * 100) AS BIGINT)"


def source_sql() -> dict[str, str]:
    """The inputs as SQL over the app's tables, for this database."""
    txn, line = Transaction._meta.db_table, TransactionLine._meta.db_table
    member, journal = Member._meta.db_table, Journal._meta.db_table
    posting, account = Posting._meta.db_table, Account._meta.db_table
    live = ", ".join(f"'{s}'" for s in LIVE_STATUSES)
    return {
        "purchases": f"SELECT id AS txn_id, member_id, {_epoch('occurred_at')} AS ts, kind, "
        f"{_cents('amount')} AS cents FROM {txn}",
        "members": f"SELECT id AS member_id, {_epoch('joined_at')} AS joined_ts FROM {member} WHERE status IN ({live})",
        # Net points: what the issuance accounts gave the member's journals (less clawbacks) and
        # what went into redemption (less what refunds returned).
        "points": f"SELECT j.member_id AS member_id, "
        f"CAST(SUM(CASE WHEN a.kind = 'issuance' THEN -p.amount ELSE 0 END) AS BIGINT) AS earned, "
        f"CAST(SUM(CASE WHEN a.kind = 'redemption' THEN p.amount ELSE 0 END) AS BIGINT) AS redeemed "
        f"FROM {posting} p JOIN {account} a ON a.id = p.account_id JOIN {journal} j ON j.id = p.journal_id "
        f"WHERE a.kind IN ('issuance', 'redemption') GROUP BY j.member_id",
        "lines": f"SELECT t.member_id AS member_id, {_epoch('t.occurred_at')} AS ts, l.category AS category "
        f"FROM {line} l JOIN {txn} t ON t.id = l.transaction_id WHERE t.kind = 'sale'",
    }


# --------------------------------------------------------------------------- reading Arrow


def read_inputs() -> dict[str, pa.Table]:
    """Every input as an Arrow table, read from the database in one pass each."""
    return {name: read_query(query, SCHEMAS[name]) for name, query in source_sql().items()}


def read_query(query: str, schema: pa.Schema) -> pa.Table:
    reader = _read_postgres if connection.vendor == "postgresql" else _read_cursor
    return reader(query, schema)


def _read_postgres(query: str, schema: pa.Schema) -> pa.Table:
    """COPY … TO STDOUT in CSV through the request's own connection (so it sees the transaction's
    writes), parsed by Arrow's multithreaded CSV reader."""
    buffer = io.BytesIO()
    with connection.cursor() as cur, cur.cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
        for data in copy:
            buffer.write(data)
    if not buffer.tell():
        return schema.empty_table()
    buffer.seek(0)
    return pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=schema.names),
        # NULL is an empty field, an empty string a quoted one.
        convert_options=pacsv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    ).cast(schema)


def _read_cursor(query: str, schema: pa.Schema, chunk: int = 100_000) -> pa.Table:
    batches = []
    with connection.cursor() as cur:
        cur.execute(query)
        while rows := cur.fetchmany(chunk):
            columns = list(zip(*rows, strict=True))
            batches.append(
                pa.record_batch([pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)
            )
    return pa.Table.from_batches(batches, schema=schema)


# --------------------------------------------------------------------------- running


@dataclass
class Result:
    metrics: pa.Table  # one row per member, sorted by member_id
    categories: pa.Table  # distinct (member_id, category), sorted


Tables = dict[str, Any]  # input name -> an Ibis table on the engine


def _compute(tables: Tables, params: batch.Params, execute: Callable[[Any], pa.Table]) -> Result:
    metrics = batch.member_metrics(tables["purchases"], tables["members"], tables["points"], params)
    categories = batch.categories_bought(tables["lines"], params)
    by_member_category = [("member_id", "ascending"), ("category", "ascending")]
    return Result(execute(metrics).sort_by("member_id"), execute(categories).sort_by(by_member_category))


def run_duckdb(inputs: dict[str, pa.Table], params: batch.Params) -> Result:
    con = ibis.duckdb.connect()
    con.raw_sql("SET enable_progress_bar = false")  # it would print into the worker's log
    try:
        # Memtables, not create_table: Ibis 12's create_table from Arrow fails on DuckDB 2.
        tables = {name: ibis.memtable(table) for name, table in inputs.items()}
        return _compute(tables, params, con.to_pyarrow)
    finally:
        con.disconnect()


def run_postgres(params: batch.Params) -> Result:
    s = connection.settings_dict
    con = ibis.postgres.connect(
        host=s.get("HOST") or "127.0.0.1",
        port=int(s.get("PORT") or 5432),
        user=s["USER"],
        password=s.get("PASSWORD") or None,
        database=s["NAME"],
    )
    try:
        tables = {name: con.sql(query) for name, query in source_sql().items()}
        return _compute(tables, params, con.to_pyarrow)
    finally:
        con.disconnect()


def run_spark(inputs: dict[str, pa.Table], params: batch.Params) -> Result:
    con = ibis.pyspark.connect(spark_session())
    tables = {name: ibis.memtable(table) for name, table in inputs.items()}
    return _compute(tables, params, con.to_pyarrow)


@functools.cache
def spark_session() -> Any:
    """A local Spark (both cores, UTC, no UI, its warehouse in a temporary folder), started once per
    process: it takes seconds."""
    from pyspark.sql import SparkSession

    warehouse = tempfile.mkdtemp(prefix="patron-spark-")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("patron-analytics")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        # Inputs cross from pandas to the JVM as Arrow, not row by row.
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # The default 1 GiB heap runs out at 10M purchases; a cluster sets its own.
        .config("spark.driver.memory", os.environ.get("PATRON_SPARK_DRIVER_MEMORY", "6g"))
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def available() -> tuple[str, ...]:
    """The engines this deployment can run: PostgreSQL's only on PostgreSQL."""
    return tuple(e for e in ENGINES if e != "postgres" or connection.vendor == "postgresql")


def compute(engine: str, params: batch.Params, inputs: dict[str, pa.Table] | None = None) -> Result:
    """Run the batch on `engine`. DuckDB and Spark take the Arrow inputs (`read_inputs`); PostgreSQL
    reads its own tables."""
    if engine == "postgres":
        if connection.vendor != "postgresql":
            raise ValueError("the postgres engine needs the PostgreSQL database")
        return run_postgres(params)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    inputs = inputs if inputs is not None else read_inputs()
    return run_spark(inputs, params) if engine == "spark" else run_duckdb(inputs, params)
