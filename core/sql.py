"""Raw SQL for the hot paths (token authentication, rating, batch requests): statements prepared once per
PostgreSQL connection, run without the ORM's query compilation or model construction.

Why: one ORM query costs 0.5-2 ms of Python CPU to compile and to turn into model instances; the same query
sent raw and prepared costs a few tens of microseconds, and the server plans it once per connection, not
per call. psycopg keeps the prepared statements of each connection (they survive in Django's pool with the
connection); `QEVAL_SQL_PREPARE=false` turns preparing off for a connection pooler in transaction mode
(pgbouncer older than 1.21), which cannot keep a session's prepared statements. PostgreSQL keeps a generic
plan per statement until the statistics of a table it reads change, so autovacuum's ANALYZE must run
(docs/operations.md); psycopg drops a connection's prepared statements after a ROLLBACK (a refused request's)
and prepares them again at their next call.

`fast_sql_enabled()` says whether a caller may take its PostgreSQL-only path: never on SQLite (the embedded
default), and never when `QEVAL_SQL_FAST_PATH=false` (the ORM path then runs everywhere; the tests run both).
Queries run here are recorded in `connection.queries` like the ORM's (query-count tests see them), and
database errors arrive as Django's (the API answers an unreachable database with 503, as for the ORM).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.transaction import mark_for_rollback_on_error
from psycopg.pq import ExecStatus
from psycopg.types.numeric import Int8Dumper

TUPLES_OK = ExecStatus.TUPLES_OK


def fast_sql_enabled(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True where the PostgreSQL fast paths may run (PostgreSQL, and QEVAL_SQL_FAST_PATH on)."""
    return connections[using].vendor == "postgresql" and getattr(settings, "QEVAL_SQL_FAST_PATH", True)


def sql_rows(sql: str, params: Mapping[str, Any] | Sequence[Any] = (), *, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
    """Run one statement on PostgreSQL with server-side parameters, prepared on this connection at the first
    call, and return its rows (an empty list for a statement that returns none). Cast every parameter in
    the SQL (`%(n)s::bigint`): server-side parameters carry types, and a None has none of its own."""
    conn = connections[using]
    conn.ensure_connection()
    start = time.monotonic()
    # Django's own errors, and a failed statement inside atomic() marks the transaction for rollback, as the
    # ORM's cursor does
    with conn.wrap_database_errors, mark_for_rollback_on_error(using):
        cur = _cursor(conn.connection)
        cur.execute(sql, params, prepare=getattr(settings, "QEVAL_SQL_PREPARE", True))
        # not `cur.description`: it builds a Column object per column at every call
        result = cur.pgresult
        rows = cur.fetchall() if result is not None and result.status == TUPLES_OK else []
    if conn.queries_logged:
        conn.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
    return rows


# One server-binding cursor per psycopg connection, kept while the connection lives: a new cursor looks up
# its result loaders afresh (~30 µs a column), a kept one has them cached. A connection serves one thread
# at a time (Django's connections are per thread; the pool hands each out to one), and so does its cursor.
_CURSORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cursor(raw) -> psycopg.Cursor:
    cur = _CURSORS.get(raw)
    if cur is None or cur.closed:
        if raw.prepare_threshold is None:
            # Django opens its connections with prepare_threshold=None (for connection poolers), and psycopg
            # then ignores prepare=True: nothing was prepared and the server planned every statement at every
            # call (0.35 ms of its CPU for the rating statement, more than running it). A threshold no query
            # reaches lets prepare=True through; the ORM's client-side cursors never prepare anyway.
            raw.prepare_threshold = _NO_AUTOMATIC_PREPARE
        cur = _CURSORS[raw] = psycopg.Cursor(raw)
        # psycopg types a Python int by its value (int2, int4 or int8) and keeps one prepared statement per
        # set of parameter types: a task id past 32767 or a duration past 32.767 s made another copy of the
        # same statement, each planned anew. Every SQL here casts its parameters, so one type does for all.
        cur.adapters.register_dumper(int, Int8Dumper)
    return cur


_NO_AUTOMATIC_PREPARE = 2**31 - 1


def sql_row(sql: str, params: Mapping[str, Any] | Sequence[Any] = (), *, using: str = DEFAULT_DB_ALIAS):
    """The first row of `sql_rows`, or None."""
    rows = sql_rows(sql, params, using=using)
    return rows[0] if rows else None


def sql_models(model, where: str, params: Mapping[str, Any] = {}, *, suffix: str = "", using: str = DEFAULT_DB_ALIAS):  # noqa: B006  (read only)
    """Rows of `model` (every concrete field, each through its database converters, as the ORM would give
    them) for `SELECT ... FROM <table> WHERE <where> <suffix>`, e.g. suffix "ORDER BY id LIMIT 1 FOR NO KEY
    UPDATE". For the hot paths' plain lookups by key; anything richer belongs to the ORM."""
    conn = connections[using]
    columns, attnames, converters = _model_columns(model, conn.vendor)
    rows = sql_rows(f"SELECT {columns} FROM {model._meta.db_table} WHERE {where} {suffix}", params, using=using)
    out = []
    for row in rows:
        values = list(row)
        for i, convs, expression in converters:
            for conv in convs:
                values[i] = conv(values[i], expression, conn)
        out.append(model.from_db(using, attnames, values))
    return out


_COLUMNS: dict[tuple[type, str], tuple[str, list[str], list[tuple[int, list, Any]]]] = {}


def _model_columns(model, vendor: str):
    key = (model, vendor)
    if key not in _COLUMNS:
        conn = connections[DEFAULT_DB_ALIAS]
        fields = list(model._meta.concrete_fields)
        converters = []
        for i, field in enumerate(fields):
            expression = field.get_col(model._meta.db_table)
            convs = conn.ops.get_db_converters(expression) + expression.get_db_converters(conn)
            if convs:
                converters.append((i, convs, expression))
        _COLUMNS[key] = (", ".join(f.column for f in fields), [f.attname for f in fields], converters)
    return _COLUMNS[key]


def sql_insert(instance, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT a new model instance (every concrete field but its auto primary key, with the values `save()`
    would send: defaults, auto_now_add) and set its primary key: `save(force_insert=True)` without the
    ORM's compilation. For plain models only: no signals are sent (the hot paths' models have none)."""
    model = type(instance)
    conn = connections[using]
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
    sql = _INSERTS.get(model)
    if sql is None:
        sql = _INSERTS[model] = (
            f"INSERT INTO {model._meta.db_table} ({', '.join(f.column for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {model._meta.pk.column}"
        )
    values = [f.get_db_prep_save(f.pre_save(instance, True), conn) for f in fields]
    (pk,) = sql_rows(sql, values, using=using)[0]
    instance.pk = pk
    instance._state.adding, instance._state.db = False, using


_INSERTS: dict[type, str] = {}
