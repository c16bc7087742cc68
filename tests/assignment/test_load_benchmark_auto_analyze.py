"""benchmarks/auto_analyze.py: on a server without autovacuum the load benchmark analyzes a churned table when
autovacuum would (so the prepared statements' plans are renewed as on a live server), and leaves alone a
table that changed less than the server's threshold."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

from benchmarks.auto_analyze import AutoAnalyze

pytestmark = pytest.mark.django_db(transaction=True)


def _url() -> str:
    """The test database as a libpq connection string (with its password, where it has one)."""
    s = connection.settings_dict
    parts = {"dbname": s["NAME"], "user": s["USER"], "password": s["PASSWORD"], "host": s["HOST"], "port": s["PORT"]}
    return make_conninfo(**{k: str(v) for k, v in parts.items() if v})


def _last_analyze(conn, table: str):
    return conn.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", [table]).fetchone()[0]


def test_a_table_is_analyzed_once_it_changed_past_the_threshold_and_not_before():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's table statistics")
    with psycopg.connect(_url(), autocommit=True) as conn:
        # autovacuum kept off these two, where the server runs it: only the thread under test may analyze them
        conn.execute("CREATE TABLE aa_churned (x int) WITH (autovacuum_enabled = false)")
        conn.execute("CREATE TABLE aa_quiet (x int) WITH (autovacuum_enabled = false)")
        try:
            conn.execute("INSERT INTO aa_churned SELECT generate_series(1, 500)")
            conn.execute("INSERT INTO aa_quiet SELECT generate_series(1, 5)")
            analyzer = AutoAnalyze(_url(), ("aa_churned", "aa_quiet"), every_s=0.2)
            analyzer.start()
            deadline = time.time() + 20  # the server publishes a backend's counts within a second or so
            while time.time() < deadline and _last_analyze(conn, "aa_churned") is None:
                time.sleep(0.2)
            count = analyzer.stop()
            assert analyzer.error is None
            assert _last_analyze(conn, "aa_churned") is not None
            assert count >= 1
            assert _last_analyze(conn, "aa_quiet") is None  # 5 changes < 50 + 10% of its rows
        finally:
            conn.execute("DROP TABLE aa_churned, aa_quiet")
