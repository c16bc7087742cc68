#!/usr/bin/env python
"""Per-statement profile of the batch request and the rating, in-process (not part of the test suite).

Runs on a database kept by the load benchmark (`annotation_load.py --keep-db`, campaign "bench"): creates
N new annotators, gives each a batch (`batch_request`), rates every task of it (`rating_submit`), asks
for a second batch, and prints for each kind of request the mean and max milliseconds of each statement
(`connection.queries`), the Python CPU, the wall time and the WAL each request wrote (full-page images
after a checkpoint show there). Times are of a machine that may be shared: compare statements, and
compare WAL, which does not depend on the load.

    .venv/bin/python benchmarks/annotation_load.py --keep-db --floor-annotators 0 --phases 64:1000 --seconds 20
    .venv/bin/python benchmarks/batch_request_profile.py --db qeval_bench [--annotators 16] [--checkpoint]

It writes to that database (annotators, batches, ratings), as the load benchmark does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--db", default="qeval_bench")
    p.add_argument("--annotators", type=int, default=16)
    p.add_argument("--checkpoint", action="store_true", help="CHECKPOINT first (shows the full-page images)")
    p.add_argument("--wal-compression", default="", choices=["", "off", "on", "pglz", "lz4", "zstd"])
    return p.parse_args(argv)


def label(sql: str) -> str:
    return " ".join(sql.split())[:80]


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ["DATABASE_URL"] = f"{args.server}/{args.db}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.db import connection

    from annotation.models import Campaign, Task
    from annotation.services.assignment import batch_request
    from annotation.services.ratings import rating_submit
    from annotation.services.users import user_add

    campaign = Campaign.objects.get(slug="bench")
    run = str(int(time.time()))
    users = [user_add(username=f"profile-{run}-{i}", role="annotator") for i in range(args.annotators)]
    with connection.cursor() as cur:
        if args.wal_compression:
            cur.execute(f"SET wal_compression = '{args.wal_compression}'")
        if args.checkpoint:
            cur.execute("CHECKPOINT")
    stats: dict[tuple[str, str], list[float]] = defaultdict(list)

    def wal_lsn() -> str:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_current_wal_insert_lsn()")
            return cur.fetchone()[0]

    def timed(kind: str, call):
        lsn = wal_lsn()
        connection.force_debug_cursor = True
        connection.queries_log.clear()
        t0, c0 = time.perf_counter(), time.thread_time()
        result = call()
        wall, cpu = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
        queries = list(connection.queries)
        connection.force_debug_cursor = False
        with connection.cursor() as cur:
            cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [lsn])
            stats[(kind, "WAL written (kB)")].append(float(cur.fetchone()[0]) / 1024)
        stats[(kind, "wall (ms)")].append(wall)
        stats[(kind, "Python CPU (ms)")].append(cpu)
        stats[(kind, "statements")].append(len(queries))
        for q in queries:  # connection.queries keeps milliseconds only (3 decimals of seconds)
            stats[(kind, label(q["sql"]))].append(float(q["time"]) * 1000)
        return result

    batches = {u.pk: timed("first batch", lambda u=u: batch_request(campaign=campaign, user=u)[0]) for u in users}
    for u in users:
        for task_id in Task.objects.filter(batch=batches[u.pk]).order_by("position").values_list("pk", flat=True):
            timed(
                "rating",
                lambda t=task_id, u=u: rating_submit(
                    task_id=t, user=u, scores={"quality": 3, "alignment": 4}, duration_ms=1000
                ),
            )
    for u in users:
        timed("second batch", lambda u=u: batch_request(campaign=campaign, user=u))
    print(
        f"{args.db}: {args.annotators} annotators; checkpoint first: {args.checkpoint}; load {os.getloadavg()[0]:.1f}"
    )
    for kind in ("first batch", "second batch", "rating"):
        print(f"-- {kind}")
        rows = [(name, v) for (k, name), v in stats.items() if k == kind]
        for name, values in sorted(rows, key=lambda r: -statistics.mean(r[1])):
            if len(values) * 4 < len(stats[(kind, "wall (ms)")]):
                continue  # once-only statements (a batch closing, the golden bounds cache)
            print(f"   mean {statistics.mean(values):8.2f}  max {max(values):8.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
