"""ANALYZE the tables a load benchmark churns when autovacuum would, on a server that has autovacuum off.

Why: the hot path's statements are prepared, and PostgreSQL keeps a prepared statement's generic plan until
the statistics of a table it reads change. A live server's autovacuum analyzes a table once
`autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x rows` of it changed (50 + 10% by default),
which renews those plans as the table grows. Without autovacuum (some CI servers turn it off) a plan made
while the task table was nearly empty (a benchmark's first batches) stays: the batch count of every rating
then scanned the whole growing table (PostgreSQL 2.8 ms of CPU per rating instead of 0.8 ms in a 60 s phase).
This thread does what the autovacuum launcher would, with the server's own thresholds, so the figures are
those of a live server, and counts what it did so the benchmark can say so.
"""

from __future__ import annotations

import threading


class AutoAnalyze(threading.Thread):
    def __init__(self, db_url: str, tables: tuple[str, ...], *, every_s: float = 1.0):
        super().__init__(daemon=True, name="auto-analyze")
        self.db_url, self.tables, self.every_s = db_url, tables, every_s
        self.analyzed = 0
        self.error: str | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.db_url, autocommit=True) as conn:
                threshold = int(self.setting(conn, "autovacuum_analyze_threshold"))
                scale = float(self.setting(conn, "autovacuum_analyze_scale_factor"))
                while not self._halt.wait(self.every_s):
                    for table in self.due(conn, threshold, scale):
                        conn.execute(f"ANALYZE {table}")
                        self.analyzed += 1
        except Exception as exc:  # noqa: BLE001 - reported by the benchmark, which then says its figures lack it
            self.error = f"{type(exc).__name__}: {exc}"

    @staticmethod
    def setting(conn, name: str) -> str:
        row = conn.execute("SELECT current_setting(%s)", [name]).fetchone()
        assert row is not None  # current_setting always returns a row (or raises for an unknown name)
        return row[0]

    def due(self, conn, threshold: int, scale: float) -> list[str]:
        rows = conn.execute(
            "SELECT s.relname, s.n_mod_since_analyze, greatest(c.reltuples, 0) FROM pg_stat_user_tables s "
            "JOIN pg_class c ON c.oid = s.relid WHERE s.relname = ANY(%s)",
            [list(self.tables)],
        ).fetchall()
        return [name for name, changed, rows_now in rows if changed > threshold + scale * rows_now]

    def stop(self) -> int:
        """Stop and return how many ANALYZEs ran."""
        self._halt.set()
        self.join(timeout=30)
        return self.analyzed
