"""Hand-made purchase histories for the batch tests: days are counted back from TODAY."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa

from patron.analytics import batch, engines

TODAY = 20_000  # a local day number (2024-10-04)
OFFSET = 8 * 3600
DAY = 86400


def ts(days_ago: int, hour: int = 12) -> int:
    """UTC epoch seconds of `hour` o'clock local time, `days_ago` days before TODAY."""
    return (TODAY - days_ago) * DAY + hour * 3600 - OFFSET


def inputs(
    history: dict[int, list[tuple[int, int] | tuple[int, int, str]]],
    *,
    joined: dict[int, int] | None = None,
    points: dict[int, tuple[int, int]] | None = None,
) -> dict[str, pa.Table]:
    """history: member -> [(days_ago, cents) or (days_ago, cents, 'refund')]; every member joined
    1,000 days ago unless `joined` says otherwise."""
    rows: list[dict[str, Any]] = []
    for member_id, purchases in history.items():
        for entry in purchases:
            kind = entry[2] if len(entry) == 3 else "sale"
            rows.append(
                {"txn_id": len(rows) + 1, "member_id": member_id, "ts": ts(entry[0]), "kind": kind, "cents": entry[1]}
            )
    members = sorted(set(history) | set(joined or {}))
    joined = joined or {}
    return {
        "purchases": pa.Table.from_pylist(rows, schema=engines.SCHEMAS["purchases"]),
        "members": pa.table(
            {"member_id": members, "joined_ts": [ts(joined.get(m, 1000)) for m in members]},
            schema=engines.SCHEMAS["members"],
        ),
        "points": pa.Table.from_pylist(
            [{"member_id": m, "earned": e, "redeemed": r} for m, (e, r) in (points or {}).items()],
            schema=engines.SCHEMAS["points"],
        ),
        "lines": pa.Table.from_pylist([], schema=engines.SCHEMAS["lines"]),
    }


def metrics(history: dict, params: batch.Params | None = None, **kw: Any) -> dict[int, dict[str, Any]]:
    """The batch's rows on DuckDB, by member."""
    tables = {name: ibis.memtable(t) for name, t in inputs(history, **kw).items()}
    expr = batch.member_metrics(tables["purchases"], tables["members"], tables["points"], params or params_())
    con = ibis.duckdb.connect()
    return {row["member_id"]: row for row in con.to_pyarrow(expr).to_pylist()}


def params_(**kw: Any) -> batch.Params:
    return batch.Params(as_of_day=TODAY, utc_offset=OFFSET, **kw)


def every(days: int, times: int, cents: int = 10_000, start: int = 0) -> list[tuple[int, int]]:
    """`times` purchases every `days` days, the latest `start` days ago."""
    return [(start + days * k, cents) for k in range(times)]
