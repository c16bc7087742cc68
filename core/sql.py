"""Raw SQL for the hot paths (token authentication, rating, batch requests): statements prepared once per
PostgreSQL connection, run without the ORM's query compilation or model construction.

Why: one ORM query costs 0.5-2 ms of Python CPU to compile and to turn into model instances; the same query
sent raw and prepared costs a few tens of microseconds, and the server plans it once per connection, not
per call. psycopg keeps the prepared statements of each connection (they survive in Django's pool with the
connection); `QEVAL_SQL_PREPARE=false` turns preparing off for a connection pooler in transaction mode
(pgbouncer older than 1.21), which cannot keep a session's prepared statements.

`fast_sql_enabled()` says whether a caller may take its PostgreSQL-only path: never on SQLite (the embedded
default), and never when `QEVAL_SQL_FAST_PATH=false` (the ORM path then runs everywhere; the tests run both).
Queries run here are recorded in `connection.queries` like the ORM's (query-count tests see them), and
database errors arrive as Django's (the API answers an unreachable database with 503, as for the ORM).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def fast_sql_enabled(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True where the PostgreSQL fast paths may run (PostgreSQL, and QEVAL_SQL_FAST_PATH on)."""
    return connections[using].vendor == "postgresql" and getattr(settings, "QEVAL_SQL_FAST_PATH", True)


def sql_rows(
    sql: str, params: Mapping[str, Any] | Sequence[Any] = (), *, using: str = DEFAULT_DB_ALIAS
) -> list[tuple]:
    """Run one statement on PostgreSQL with server-side parameters, prepared on this connection at the first
    call, and return its rows (an empty list for a statement that returns none). Cast every parameter in
    the SQL (`%(n)s::bigint`): server-side parameters carry types, and a None has none of its own."""
    import psycopg

    conn = connections[using]
    conn.ensure_connection()
    start = time.monotonic()
    with conn.wrap_database_errors, psycopg.Cursor(conn.connection) as cur:
        cur.execute(sql, params, prepare=getattr(settings, "QEVAL_SQL_PREPARE", True))  # type: ignore[arg-type]  # a LiteralString in psycopg's stubs; these statements are constants
        rows = cur.fetchall() if cur.description is not None else []
    if conn.queries_logged:
        conn.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
    return rows


def sql_row(sql: str, params: Mapping[str, Any] | Sequence[Any] = (), *, using: str = DEFAULT_DB_ALIAS):
    """The first row of `sql_rows`, or None."""
    rows = sql_rows(sql, params, using=using)
    return rows[0] if rows else None
