"""The floor under the earn API: the same signed sale, answered with the least work that still
checks the till's signature and commits the sale and the member's new balance in PostgreSQL.

Two apps serve `POST /api/v1/pos/sales` (and `GET /health`) for bench_floor.py:

- `bare`: a plain WSGI callable, no framework: HMAC check (ADR 0006's message), JSON, one
  statement (the sale row with ON CONFLICT on (store, external_id) and the balance update, in one
  CTE, autocommitted), JSON back. Nothing of Patron's rules, nonces, idempotency, ledger or tiers.
- `django`: the same work in a Django view behind Patron's own settings and middleware, through
  Django's connection (persistent, prepared statements, as patron.settings configures it).

On SQLite (FLOOR_SQLITE_PATH set for the bare app; no DATABASE_URL for Django's) the one statement
is two, the sale's INSERT … RETURNING and the balance's UPDATE … RETURNING, in one BEGIN IMMEDIATE
transaction, in WAL mode with synchronous=FULL, as Patron's SQLite runs.

Neither is part of the product. What they measure is how many sales per second this machine
could answer at best with each stack, next to pgbench, so the earn API's figures can be read
against what is possible at all. Tills: key `floor-till-<i>`, secret `floor-secret-<i>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

SALES_PATH = "/api/v1/pos/sales"
SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_account (member_no text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE IF NOT EXISTS floor_sale (
    id bigserial PRIMARY KEY, store text NOT NULL, external_id text NOT NULL, member_no text NOT NULL,
    amount numeric(12, 2) NOT NULL, points bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store, external_id)
);
"""
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_account (member_no TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0));
CREATE TABLE IF NOT EXISTS floor_sale (
    id INTEGER PRIMARY KEY, store TEXT NOT NULL, external_id TEXT NOT NULL, member_no TEXT NOT NULL,
    amount TEXT NOT NULL, points INTEGER NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (store, external_id)
);
"""
SQLITE_SALE = """
INSERT INTO floor_sale (store, external_id, member_no, amount, points) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (store, external_id) DO NOTHING RETURNING points
"""
SQLITE_BALANCE = "UPDATE floor_account SET balance = balance + ? WHERE member_no = ? RETURNING balance"
# One round trip: the sale (at most once per store and external id) and the balance it earns.
EARN = """
WITH sale AS (
    INSERT INTO floor_sale (store, external_id, member_no, amount, points) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (store, external_id) DO NOTHING RETURNING member_no, points
)
UPDATE floor_account a SET balance = a.balance + sale.points FROM sale
WHERE a.member_no = sale.member_no RETURNING a.balance
"""
MAX_AGE = 300


def secret_for(key: str) -> bytes | None:
    if not key.startswith("floor-till-"):
        return None
    return ("floor-secret-" + key.removeprefix("floor-till-")).encode()


def check(headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
    """(till key, its store) when the signature holds and is fresh, else None (ADR 0006's message)."""
    key = headers.get("authorization", "").removeprefix("Bearer ").strip()
    secret = secret_for(key)
    ts, nonce, signature = (headers.get(h, "") for h in ("x-patron-timestamp", "x-patron-nonce", "x-patron-signature"))
    if secret is None or not ts.isdigit() or abs(time.time() - int(ts)) > MAX_AGE:
        return None
    message = f"{ts}.{nonce}.POST.{SALES_PATH}.".encode() + body
    if not hmac.compare_digest(hmac.new(secret, message, hashlib.sha256).hexdigest(), signature):
        return None
    return key, "store-" + key.removeprefix("floor-till-")


def earn_arguments(store: str, payload: dict[str, Any]) -> tuple[str, str, str, str, int]:
    amount = str(payload["amount"])
    return store, str(payload["external_id"]), str(payload["member_no"]), amount, int(float(amount))


def answer(balance: int | None, points: int) -> tuple[int, bytes]:
    if balance is None:
        return 409, json.dumps({"code": "duplicate_request"}).encode()
    return 201, json.dumps({"points_earned": points, "balance": balance}).encode()


# --------------------------------------------------------------------------- bare WSGI

_connection: Any = None


def _connect() -> Any:
    global _connection
    if _connection is None:
        if os.environ.get("FLOOR_SQLITE_PATH"):
            _connection = sqlite3.connect(os.environ["FLOOR_SQLITE_PATH"], isolation_level=None, timeout=20)
            _connection.execute("PRAGMA journal_mode=WAL")
            _connection.execute("PRAGMA synchronous=FULL")
        else:
            import psycopg

            _connection = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True, prepare_threshold=0)
    return _connection


def _earn_bare(arguments: tuple[str, str, str, str, int]) -> int | None:
    connection = _connect()
    if not isinstance(connection, sqlite3.Connection):
        with connection.cursor() as cursor:
            return _earn_postgres(cursor, arguments)
    connection.execute("BEGIN IMMEDIATE")
    try:
        balance = _earn_sqlite(connection.cursor(), arguments)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return balance


def _earn_postgres(cursor: Any, arguments: tuple[str, str, str, str, int]) -> int | None:
    """The sale and the balance it earns in one statement; None when the sale was there already."""
    cursor.execute(EARN, arguments)
    row = cursor.fetchone()
    return row[0] if row else None


def _earn_sqlite(cursor: Any, arguments: tuple[str, str, str, str, int]) -> int | None:
    """The sale, then the balance it earns; None when the sale was there already."""
    cursor.execute(SQLITE_SALE, arguments)
    sale = cursor.fetchone()
    if sale is None:
        return None
    cursor.execute(SQLITE_BALANCE, (sale[0], arguments[2]))
    row = cursor.fetchone()
    return row[0] if row else None


def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != SALES_PATH:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    till = check(headers, body)
    if till is None:
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [b'{"code":"bad_signature"}']
    arguments = earn_arguments(till[1], json.loads(body))
    status, out = answer(_earn_bare(arguments), arguments[-1])
    start_response(f"{status} {'Created' if status == 201 else 'Conflict'}", [("Content-Type", "application/json")])
    return [out]


# --------------------------------------------------------------------------- Django view


def django_view(request: Any) -> Any:
    from django.db import connection, transaction
    from django.http import HttpResponse

    till = check({k.lower(): v for k, v in request.headers.items()}, request.body)
    if till is None:
        return HttpResponse(b'{"code":"bad_signature"}', status=401, content_type="application/json")
    arguments = earn_arguments(till[1], json.loads(request.body))
    if connection.vendor == "sqlite":
        with transaction.atomic(), connection.cursor() as cursor:
            balance = _earn_sqlite(cursor, arguments)
    else:
        with connection.cursor() as cursor:
            balance = _earn_postgres(cursor, arguments)
    status, out = answer(balance, arguments[-1])
    return HttpResponse(out, status=status, content_type="application/json")
