#!/usr/bin/env python
"""CPU per request of the rating and the batch request, in-process (not part of the test suite).

Calls the platform's WSGI application directly (no web server, no network, no load client), so the figure is
the Django side of a request alone, free of the machine's other work: the fast lane as config/wsgi.py serves it
(core/api/lean_dispatch.py), the lean request cycle inside Django's middleware chain (core/api/lean.py), and
the DRF views behind it (`QEVAL_LEAN_API` off), for an annotator logged in as the
rating page in a browser is (session cookie and CSRF token) and for a token, in the same run, interleaved in
rounds so that a machine slowing down weighs on every variant alike. Seeds its own small database (the load
benchmark's seeding: annotation_load.py), with throttle counters in Redis as deployed.

    .venv/bin/python benchmarks/request_cpu.py [--ratings 600] [--rounds 4]

Prints, per variant, the median CPU milliseconds of a rating and of a batch request (process time, the
median of each round's mean), PostgreSQL's CPU per rating beside it (the server's backends' own run time, read
from /proc where PostgreSQL runs on this machine), the CPU of a rating that closes its batch, and the fast
lane's saving against the other two; and the one-statement close of a batch against its close in the ORM's
steps (the `steps` variant: the fast lane, session, with leases.batch_close_idle_fast turned off).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from benchmarks import annotation_load  # noqa: E402

# lane: the fast lane as config/wsgi.py serves it; lean: the lean cycle inside Django's middleware chain (plain
# WSGIHandler); drf: the DRF views (QEVAL_LEAN_API off); steps: the fast lane with a batch's close taken in the
# ORM's steps (as before 2026-12-01), the baseline of the one-statement close (leases.batch_close_idle_fast)
VARIANTS = [(cycle, auth) for auth in ("session", "token") for cycle in ("lane", "lean", "drf")] + [
    ("steps", "session")
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ratings", type=int, default=600, help="ratings per variant and round")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--db", default="qeval_request_cpu")
    p.add_argument("--cache", default=os.environ.get("BENCH_CACHE", "redis://127.0.0.1:6379/4"))
    return p.parse_args(argv)


class Wsgi:
    """Requests straight into the WSGI application, as gunicorn would hand them over."""

    def __init__(self, app):
        self.app = app

    def post(self, path: str, body: dict, headers: dict[str, str]) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(data)),
            "CONTENT_TYPE": "application/json",
            "HTTP_ACCEPT": "application/json",
            "HTTP_ORIGIN": "http://127.0.0.1:8000",
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status: list[int] = []
        body_out = b"".join(self.app(environ, lambda s, h, exc_info=None: status.append(int(s.split()[0]))))
        return status[0], body_out


class Backends:
    """The CPU time PostgreSQL's backends serving `db` have run (seconds; /proc/PID/schedstat, nanoseconds),
    where the server runs on this machine; None elsewhere. The pids are read once per round (the process's
    pool keeps its one connection: a single thread asks)."""

    def __init__(self, server: str, db: str):
        self.server, self.db = server, db
        self.pids: list[int] = []

    def refresh(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'", [self.db]
            ).fetchall()
        self.pids = [pid for (pid,) in rows]

    def cpu(self) -> float | None:
        total = 0
        for pid in self.pids:
            try:
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return None  # not this machine's, or gone: no figure rather than a wrong one
        return total / 1e9 if self.pids else None


def run_variant(
    wsgi: Wsgi, slug: str, headers: dict[str, str], n: int, backends: Backends | None = None
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Rate n tasks (asking for batches as needed); the CPU seconds of each rating and batch request,
    PostgreSQL's CPU seconds for each rating (empty where it cannot be read), and the CPU seconds of each
    rating that closed its batch (its last)."""
    rating_cpu: list[float] = []
    batch_cpu: list[float] = []
    pg_cpu: list[float] = []
    closing_cpu: list[float] = []
    while len(rating_cpu) < n:
        t = time.process_time()
        status, out = wsgi.post(f"/api/v1/campaigns/{slug}/batches/", {}, headers)
        batch_cpu.append(time.process_time() - t)
        if status not in (200, 201):
            raise SystemExit(f"batch request answered {status}: {out[:200]!r}")
        for task in json.loads(out)["tasks"]:
            if task["status"] != "leased" or len(rating_cpu) >= n:
                continue
            body = {"quality": 3, "alignment": 4, "duration_ms": 1000}
            pg = backends.cpu() if backends else None
            t = time.process_time()
            status, out = wsgi.post(f"/api/v1/tasks/{task['id']}/rating/", body, headers)
            rating_cpu.append(time.process_time() - t)
            pg_after = backends.cpu() if backends else None
            if pg is not None and pg_after is not None:
                pg_cpu.append(pg_after - pg)
            if status != 201:
                raise SystemExit(f"rating answered {status}: {out[:200]!r}")
            if json.loads(out)["batch"]["status"] == "closed":
                closing_cpu.append(rating_cpu[-1])
    return rating_cpu, batch_cpu, pg_cpu if len(pg_cpu) == len(rating_cpu) else [], closing_cpu


def main(argv=None) -> int:
    args = parse_args(argv)
    load_args = annotation_load.parse_args(["--items", "5000", "--ratings", "0", "--db", args.db])
    db_url = f"{args.server}/{args.db}"
    annotation_load.admin_exec(args.server, f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
    annotation_load.admin_exec(args.server, f"CREATE DATABASE {args.db}")
    os.environ.update(CACHE_URL=args.cache, QEVAL_THROTTLE_USER="100000/s", ALLOWED_HOSTS="127.0.0.1,localhost")
    try:
        annotation_load.setup_django(db_url, load_args.broker)
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command

        from core.api.lean_dispatch import LeanWSGIHandler

        call_command("migrate", verbosity=0)
        campaign = annotation_load.seed(load_args)["campaign"]
        chain = Wsgi(WSGIHandler())  # the lean cycle and the DRF views (QEVAL_LEAN_API tells them apart)
        lane_app = Wsgi(LeanWSGIHandler())
        apps = {"lane": lane_app, "lean": chain, "drf": chain, "steps": lane_app}
        from annotation.services import ratings as ratings_service

        one_statement_close = ratings_service.batch_close_idle_fast

        def configure(cycle: str) -> None:
            settings.QEVAL_LEAN_API = cycle != "drf"
            ratings_service.batch_close_idle_fast = one_statement_close if cycle != "steps" else lambda **_: False

        run = str(int(time.time()))
        # one annotator per variant and round: each rates its own batches, as the load benchmark's do
        people = {
            (v, r): annotation_load.make_annotators(1, f"cpu-{run}-{v[0]}-{v[1]}-{r}", v[1])[0]
            for v in VARIANTS
            for r in range(args.rounds + 1)
        }
        for v in VARIANTS:  # warm-up round: imports, prepared statements, the URL resolver's caches
            configure(v[0])
            run_variant(apps[v[0]], campaign.slug, people[(v, args.rounds)], 60)
        backends = Backends(args.server, args.db)
        results: dict[tuple[str, str], dict[str, list[float]]] = {
            v: {"rating": [], "batch": [], "pg": [], "closing": []} for v in VARIANTS
        }
        for r in range(args.rounds):
            for v in VARIANTS:
                configure(v[0])
                backends.refresh()
                ratings, batches, pg, closing = run_variant(
                    apps[v[0]], campaign.slug, people[(v, r)], args.ratings, backends
                )
                results[v]["rating"].append(statistics.mean(ratings))
                results[v]["batch"].append(statistics.mean(batches))
                if pg:
                    results[v]["pg"].append(statistics.mean(pg))
                if closing:
                    results[v]["closing"].append(statistics.mean(closing))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
        print(
            f"CPU per request in-process ({args.rounds} rounds x {args.ratings} ratings per variant; median of rounds):"
        )
        med = {v: {k: 1000 * statistics.median(x) for k, x in results[v].items() if x} for v in VARIANTS}
        for cycle, auth in VARIANTS:
            m = med[(cycle, auth)]
            pg_text = f" (PostgreSQL {m['pg']:.3f} ms)" if "pg" in m else " (PostgreSQL's CPU not readable here)"
            closing_text = f", a rating that closes its batch {m['closing']:.2f} ms" if "closing" in m else ""
            print(
                f"  {cycle:5} {auth:7}: rating {m['rating']:.3f} ms{pg_text}, batch request {m['batch']:.2f} ms"
                f"{closing_text}"
            )
        for auth in ("session", "token"):
            lane, lean, drf = (med[(cycle, auth)] for cycle in ("lane", "lean", "drf"))
            for name, a, b in (
                ("fast lane against the lean cycle in the chain", lane, lean),
                ("fast lane against DRF views", lane, drf),
            ):
                print(
                    f"  {name}, {auth}: rating {a['rating']:.3f} vs {b['rating']:.3f} ms "
                    f"({100 * (1 - a['rating'] / b['rating']):.0f}% less), batch request {a['batch']:.2f} vs "
                    f"{b['batch']:.2f} ms ({100 * (1 - a['batch'] / b['batch']):.0f}% less)"
                )
        one, steps = med[("lane", "session")], med[("steps", "session")]
        if "closing" in one and "closing" in steps:
            print(
                f"  one-statement close against the close in steps, session: a rating that closes its batch "
                f"{one['closing']:.2f} vs {steps['closing']:.2f} ms ({100 * (1 - one['closing'] / steps['closing']):.0f}% "
                f"less), every rating {one['rating']:.3f} vs {steps['rating']:.3f} ms"
            )
    finally:
        from django.db import connections

        connections.close_all()
        annotation_load._purge_broker(load_args.broker)  # the scrutiny messages of closed batches
        annotation_load.admin_exec(args.server, f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
