"""Load benchmark of the annotator workflow (not part of the test suite).

Seeds its own PostgreSQL database (100K items over several generators, 500K approved ratings, a 5%
golden sample) with COPY, migrates it, starts gunicorn with the web container's settings
(platform/docker/gunicorn.conf.py; or `--web granian`, for comparison) on a free loopback port, and runs phases of
simulated annotators (threads, keep-alive HTTP; logged in as the rating page in a browser is, a session
cookie and its CSRF token, or with `--auth token` as an API client), each phase with new annotators:

1. the floor: every annotator POSTs to a minimal authenticated endpoint that inserts one row in one
   transaction (benchmarks/floor_urls.py, mounted only by this benchmark's settings,
   benchmarks/floor_settings.py), flat out: the requests/s of the bare stack on the same server;
2. the rating phases (`--phases`, default 16 and 64 annotators with no think time, the figures
   comparable with Label Studio's, then 64 with a 1 s mean think time): each annotator asks for a batch
   and rates every task until the time is up.

Prints p50/p95/p99 latency of batch requests and ratings and ratings/s per phase, where each phase's CPU
went per rating (load client, web server, PostgreSQL, the rest of the machine; benchmarks/cpu_split.py),
the saturation ratings/s as a share of the floor (a line ending `NN% of the floor`), the think-time p95s
with 95% bootstrap intervals, and the over-assignment check (no regular item over target, counters true,
no annotator rating an item twice). Then stops the web server and drops the database. Phases with a think time
run `--think-seconds` (180 s), the others `--seconds` (60 s).

    .venv/bin/python benchmarks/annotation_load.py                      # the defaults below
    .venv/bin/python benchmarks/annotation_load.py --items 20000 --ratings 60000 --seconds 20 --think-seconds 40

Goals on a 2-core machine: ≥ 600 ratings/s at saturation and ≥ 50% of the floor; with 64 annotators at
1 s think time rating p95 ≤ 20 ms and batch p95 ≤ 50 ms; zero over-assignment. The client threads run
on the same machine as the server and PostgreSQL, so the figures include their CPU share. Each phase
consumes open rating slots: at ~600 ratings/s a 20 s zero-think phase takes ~12K of them.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from benchmarks import cpu_split  # noqa: E402  (after the path set-up, as the platform's imports)
from benchmarks.auto_analyze import AutoAnalyze  # noqa: E402

# The floor endpoint's table (benchmarks/floor_urls.py inserts into it); created in the benchmark's database only.
FLOOR_CREATE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, user_id bigint NOT NULL,"
    " value integer, created_at timestamptz NOT NULL DEFAULT now())"
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--ratings", type=int, default=500_000, help="approved ratings seeded before the run")
    p.add_argument("--generators", type=int, default=10)
    p.add_argument("--golden-fraction", type=float, default=0.05)
    p.add_argument(
        "--phases",
        default="16:0,64:0,64:1000",
        help="rating phases as ANNOTATORS:THINK_MS, comma-separated (think = mean pause before each rating; 0 = flat out)",
    )
    p.add_argument("--floor-annotators", type=int, default=64, help="clients of the floor phase (0: no floor phase)")
    p.add_argument("--seconds", type=float, default=60.0, help="length of the floor and each flat-out phase")
    p.add_argument(
        "--think-seconds",
        type=float,
        default=180.0,
        help="length of each phase with a think time: at 1 s a 60 s phase holds one batch per annotator, and "
        "every annotator's second request arrives in the same few seconds (a burst real raters, who start at "
        "different times, do not make); 180 s gives each some 3-4 batches and ~250 batch requests for the p95",
    )
    p.add_argument("--max-batches", type=int, default=1000, help="per simulated annotator and phase")
    p.add_argument(
        "--web",
        default="gunicorn",
        choices=["gunicorn", "granian"],
        help="the WSGI server: gunicorn (the platform's, gthread workers, HTTP parsed in Python) or granian (HTTP in "
        "Rust, the app in each worker's blocking threads; not a dependency: pip install granian==2.8.7); both serve "
        "config.wsgi",
    )
    p.add_argument(
        "--workers", type=int, default=2, help="web server worker processes; see the README's scaling section"
    )
    p.add_argument("--threads", type=int, default=4, help="threads per worker (gunicorn) / blocking threads (granian)")
    p.add_argument(
        "--gunicorn-config",
        default=str(ROOT / "platform" / "docker" / "gunicorn.conf.py"),
        help="gunicorn's settings file, the web container's by default (keep-alive, worker recycling, access log); "
        "--bind, --workers and --threads are given on top of it; 'none': gunicorn's defaults with --preload and a "
        "30 s keep-alive (the benchmark's server before 2026-12-01)",
    )
    p.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL (without database)",
    )
    p.add_argument("--db", default="qeval_bench")
    p.add_argument(
        "--broker",
        default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/3"),
        help="Celery broker the web server queues scrutiny on (no worker runs; purged at the end)",
    )
    p.add_argument(
        "--cache",
        default=os.environ.get("BENCH_CACHE", "redis://127.0.0.1:6379/4"),
        help="the web server's CACHE_URL, where the throttles count (Redis as in docker-compose.yml; '' keeps each "
        "process's memory, which a deployment with several web processes cannot use)",
    )
    p.add_argument(
        "--wal-compression",
        default="lz4",
        choices=["", "off", "on", "pglz", "lz4", "zstd"],
        help="wal_compression for the benchmark database's sessions (docker-compose.yml runs PostgreSQL with lz4; "
        "'' keeps the server's own setting)",
    )
    p.add_argument(
        "--auth",
        default="session",
        choices=["session", "token"],
        help="how the simulated annotators authenticate: 'session' as the rating page in a browser does (a "
        "logged-in session cookie and the CSRF token in X-CSRFToken), 'token' as an API client does",
    )
    p.add_argument(
        "--media",
        action="store_true",
        help="each annotator also fetches each task's image before rating it, as the rating page does (a "
        f"{MEDIA_KB} KB PNG behind the access check; ratings/s then include the media requests)",
    )
    p.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    p.add_argument(
        "--reuse-db",
        action="store_true",
        help="reuse a database kept by --keep-db (skip seeding; new annotators; implies --keep-db)",
    )
    p.add_argument(
        "--ramp-s",
        type=float,
        default=5.0,
        help="annotators start at random times within this many seconds (not all in one instant)",
    )
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------ database


def admin_exec(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def setup_django(db_url: str, broker: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["DEBUG"] = "false"
    os.environ["CELERY_BROKER_URL"] = broker
    import django

    django.setup()


def copy_rows(cur, table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples; None = NULL) into table, in text format."""
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row))
        buf.write("\n")
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buf.getvalue())


MEDIA_KB = 300  # a generated 512x512 image as the rating page loads it (PNG, noise: it does not compress)
SAMPLE_MEDIA = "bench/sample.png"


def write_sample_media() -> Path:
    """The one image every seeded item shows with --media, in the web server's MEDIA_ROOT."""
    import numpy as np
    from django.conf import settings
    from PIL import Image

    path = Path(settings.MEDIA_ROOT) / SAMPLE_MEDIA
    path.parent.mkdir(parents=True, exist_ok=True)
    side = int((MEDIA_KB * 1024 / 3) ** 0.5)  # raw RGB noise: about MEDIA_KB once written
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    return path


def seed(args) -> dict:
    """Campaign, generators, prompts, items, seed annotators with one approved imported batch each, and
    ratings. Counters are set consistently (active_count = seeded ratings)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from annotation.models import Batch, Campaign, Generator
    from core.roles import roles_sync

    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    roles_sync()
    campaign = Campaign.objects.create(slug="bench", name="Benchmark")
    gens = [Generator.objects.create(name=f"bench-gen-{g}", media_type="image") for g in range(args.generators)]
    now = timezone.now().isoformat()
    n_prompts = max(1, args.items // 4)
    target = campaign.ratings_per_image
    # ratings per item: 4, 5 or 6 (full), scaled to the requested total (capped at target)
    per_item_mean = args.ratings / max(1, args.items)
    counts = []
    for _ in range(args.items):
        k = int(per_item_mean) + (1 if rng.random() < per_item_mean - int(per_item_mean) else 0)
        k += rng.choice((-1, 0, 1)) if 0 < k < target else 0
        counts.append(max(0, min(target, k)))
    n_seed_annotators = max(target + 2, 200)
    User = get_user_model()
    User.objects.bulk_create([User(username=f"bench-seed-{a}", password="!") for a in range(n_seed_annotators)])
    seed_users = list(
        User.objects.filter(username__startswith="bench-seed-").order_by("pk").values_list("pk", flat=True)
    )
    Batch.objects.bulk_create(
        [
            Batch(
                campaign=campaign,
                annotator_id=u,
                kind=Batch.Kind.IMPORTED,
                status=Batch.Status.CLOSED,
                decision=Batch.Decision.APPROVED,
                closed_at=timezone.now(),
            )
            for u in seed_users
        ]
    )
    batch_of = dict(Batch.objects.filter(campaign=campaign).values_list("annotator_id", "pk"))
    with connection.cursor() as django_cur:
        cur = django_cur.cursor  # the psycopg cursor underneath
        copy_rows(
            cur,
            "annotation_prompt",
            ["text", "text_sha256", "category", "subcategory", "word_count"],
            (
                (f"benchmark prompt number {p} with a few words", f"{p:064x}", "Entity Generation", "", 7)
                for p in range(n_prompts)
            ),
        )
        cur.execute("SELECT min(id) FROM annotation_prompt")
        p0 = cur.fetchone()[0]
        golden_every = max(1, round(1 / args.golden_fraction)) if args.golden_fraction > 0 else 0
        copy_rows(
            cur,
            "annotation_item",
            [
                "campaign_id",
                "item_id",
                "media",
                "thumbnail",
                "media_type",
                "width",
                "height",
                "sha256",
                "prompt_id",
                "generator_id",
                "is_golden",
                "target",
                "active_count",
                "created_at",
                # what Item() would give: these have no database default
                "shuffle_key",
                "priority",
                "priority_scale",
                "priority_bonus",
                "is_held",
                "split",
            ],
            (
                (
                    campaign.pk,
                    f"it-{i:07d}",
                    SAMPLE_MEDIA if args.media else f"bench/{i}.png",
                    "",
                    "image",
                    512,
                    512,
                    f"{i:064x}",
                    p0 + i % n_prompts,
                    gens[i % len(gens)].pk,
                    "t" if golden_every and i % golden_every == 7 % golden_every else "f",
                    target,
                    counts[i],
                    now,
                    random.randrange(2**31),
                    1.0,
                    1.0,
                    0.0,
                    "f",
                    "",
                )
                for i in range(args.items)
            ),
        )
        cur.execute("SELECT min(id) FROM annotation_item WHERE campaign_id = %s", [campaign.pk])
        i0 = cur.fetchone()[0]

        def rating_rows():
            for i, k in enumerate(counts):
                start = rng.randrange(n_seed_annotators)
                for j in range(k):
                    u = seed_users[(start + j) % n_seed_annotators]
                    yield (u, i0 + i, batch_of[u], 1 + (i + j) % 5, 1 + (i * 7 + j) % 5, now)

        copy_rows(
            cur,
            "annotation_rating",
            ["annotator_id", "item_id", "batch_id", "quality", "alignment", "created_at"],
            rating_rows(),
        )
    vacuum(connection, VACUUM_AFTER_SEED)
    return {
        "campaign": campaign,
        "seconds": time.perf_counter() - t0,
        "ratings": sum(counts),
        "open_slots": sum(target - c for c in counts),
    }


# A freshly COPYed table has no visibility map and no hint bits: the first reads of every row would write
# them (dirtying pages, WAL) inside the timed requests. A live database has been vacuumed.
VACUUM_AFTER_SEED = ("annotation_item", "annotation_rating", "annotation_batch", "annotation_task", "annotation_prompt")
# What each phase leaves dead: every lease, expiry and rating rewrites an item or a task row.
VACUUM_BETWEEN_PHASES = ("annotation_item", "annotation_task", "annotation_batch", "annotation_rating")


def vacuum(connection, tables) -> None:
    """VACUUM (ANALYZE) the tables (outside any transaction: Django's connection is in autocommit here)."""
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"VACUUM (ANALYZE) {table}")


def autovacuum_on(connection) -> bool:
    with connection.cursor() as cur:
        cur.execute("SHOW autovacuum")
        return cur.fetchone()[0] == "on"


def make_annotators(n: int, run: str, auth: str) -> list[dict[str, str]]:
    """n new annotators, each as the headers their requests carry: a token, or (as the rating page in a
    browser) a logged-in session's cookie with the CSRF cookie and the X-CSRFToken header it sends back."""
    from annotation.services.users import user_add, user_token

    users = [user_add(username=f"bench-ann-{run}-{a}", role="annotator") for a in range(n)]
    if auth == "token":
        return [{"Authorization": f"Token {user_token(user=user)}"} for user in users]
    return [session_headers(user) for user in users]


def session_headers(user) -> dict[str, str]:
    """What a browser logged in as `user` sends: the session Django's login() would have made, and a CSRF
    secret in its cookie and header."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    csrf = _get_new_csrf_string()
    return {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}; {settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
    }


def explain_assignment(campaign, user_pk: int) -> list[str]:
    """EXPLAIN ANALYZE of the candidate query, in a rolled-back transaction: shows the indexes it uses."""
    from django.db import connection, transaction

    from annotation.services.assignment import CANDIDATES_SQL, _open_generators

    with transaction.atomic():
        gens = _open_generators(campaign=campaign)
        with connection.cursor() as cur:
            cur.execute(
                "EXPLAIN (ANALYZE, COSTS OFF) " + CANDIDATES_SQL[campaign.selection_policy],
                {"gens": gens, "c": campaign.pk, "u": user_pk, "k": 5, "exclude": []},
            )
            lines = [r[0] for r in cur.fetchall()]
        transaction.set_rollback(True)
    return lines


# ------------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def warm_up(port: int, headers: dict[str, str], n: int) -> None:
    """Wait until every worker answers (workers boot after the port opens), so boot is not timed."""
    deadline = time.time() + 120
    ok = 0
    while ok < n and time.time() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", "/api/v1/batches/", headers=headers)
            ok += conn.getresponse().status == 200
        except OSError:
            time.sleep(0.5)
        finally:
            conn.close()


def web_binary(args) -> Path:
    """The --web server's program; stops with one line when it is not installed (granian is not a dependency of
    the platform, which gunicorn serves: it is installed by hand for this comparison)."""
    path = Path(sys.executable).parent / args.web
    if not path.exists():
        raise SystemExit(
            f"--web {args.web}: {args.web} is not installed here ({path.parent / 'pip'} install {args.web})"
        )
    return path


def web_command(args, port: int) -> list[str]:
    binary = str(web_binary(args))
    if args.web == "granian":
        return [
            binary,
            "config.wsgi:application",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--blocking-threads",
            str(args.threads),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    common = [
        binary,
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread",
        "--log-level",
        "warning",
    ]
    if args.gunicorn_config == "none":
        return [*common, "--keep-alive", "30", "--preload"]
    return [*common, "--config", args.gunicorn_config]  # the command line wins over the file, as in gunicorn


def _settings_named(args) -> str:
    if args.web != "gunicorn":
        return ""
    if args.gunicorn_config == "none":
        return " (gunicorn's defaults, --preload, 30 s keep-alive)"
    return f" (settings: {os.path.relpath(args.gunicorn_config, ROOT)})"


def start_web(args, db_url: str, port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        # the platform's settings plus the floor endpoint's URLconf (never mounted in a deployment)
        DJANGO_SETTINGS_MODULE="benchmarks.floor_settings",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CELERY_BROKER_URL=args.broker,
        LOG_LEVEL="WARNING",
        PYTHONPATH=f"{ROOT}:{ROOT / 'platform'}",
        DB_CONN_MAX_AGE="600",
        # Flat-out simulated annotators rate 10-40 times a second each, far above the per-user rate a person
        # reaches (1200/min by default): the throttle still runs on every request, it just never refuses.
        QEVAL_THROTTLE_USER="100000/s",  # per second: the throttle's windows are one second long
        CACHE_URL=args.cache,
    )
    cmd = web_command(args, port)
    # stdout: gunicorn's access log where the settings turn it on (GUNICORN_ACCESS_LOG=-)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{args.web} exited at start") from None
            time.sleep(0.3)
    raise SystemExit(f"{args.web} did not start in 60 s")


# -------------------------------------------------------------------------------------------- load


class Annotator(threading.Thread):
    def __init__(self, *, port, headers, slug, deadline, args, rng, sink, think_ms: float, floor: bool = False):
        super().__init__(daemon=True)
        self.port, self.slug, self.deadline, self.args, self.rng, self.sink = (
            port,
            slug,
            deadline,
            args,
            rng,
            sink,
        )
        self.think_ms, self.floor = think_ms, floor
        # a browser's fetch() sends its page's origin with every POST (Django's CSRF check compares it)
        origin = {"Origin": f"http://127.0.0.1:{port}"} if "X-CSRFToken" in headers else {}
        self.headers = {**headers, **origin, "Content-Type": "application/json", "Accept": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict | None = None, *, parse: bool = True):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            data = json.dumps(body).encode() if body is not None else b""
            t0 = time.perf_counter()
            try:
                self.conn.request(
                    method,
                    path,
                    body=data,
                    headers=self.headers,
                )
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            ms = (time.perf_counter() - t0) * 1000
            return resp.status, (json.loads(raw) if raw and parse else raw), ms
        raise RuntimeError("unreachable")

    def run_floor(self):
        """The floor phase: one insert per request, flat out."""
        while time.time() < self.deadline:
            status, out, ms = self.call("POST", "/bench/floor/", {"quality": self.rng.randint(1, 5)})
            if status == 201:
                self.sink["rating_ms"].append(ms)
                self.sink["rating_t"].append(time.time())
            else:
                self.sink["errors"].append(f"floor {status} {out}")
                return

    def run(self):
        sink = self.sink
        time.sleep(self.rng.uniform(0, self.args.ramp_s))
        try:
            if self.floor:
                return self.run_floor()
            for k in range(self.args.max_batches):
                if time.time() >= self.deadline:
                    return
                status, body, ms = self.call("POST", f"/api/v1/campaigns/{self.slug}/batches/", {})
                sink["later_batch_ms" if k else "first_batch_ms"].append(ms)
                if status == 204:
                    sink["no_work"] += 1
                    return
                if status not in (200, 201):
                    sink["errors"].append(f"batch {status} {body}")
                    return
                for task in body["tasks"]:
                    if task["status"] != "leased":
                        continue
                    if self.think_ms:
                        time.sleep(self.rng.expovariate(1000.0 / self.think_ms))
                    if time.time() >= self.deadline:
                        return
                    if self.args.media:  # the rating page shows the task's image first
                        status, raw, ms = self.call("GET", task["media_url"], parse=False)
                        if status == 200 and len(raw) > 1024:
                            sink["media_ms"].append(ms)
                        else:
                            sink["errors"].append(f"media {status} {raw[:100]!r}")
                    status, out, ms = self.call(
                        "POST",
                        f"/api/v1/tasks/{task['id']}/rating/",
                        {"quality": self.rng.randint(1, 5), "alignment": self.rng.randint(1, 5), "duration_ms": 1000},
                    )
                    if status == 201:
                        sink["rating_ms"].append(ms)
                        sink["rating_t"].append(time.time())
                    else:
                        sink["errors"].append(f"rating {status} {out}")
                sink["batches_done"] += 1
        except Exception as exc:  # noqa: BLE001 - counted and printed
            sink["errors"].append(f"{type(exc).__name__}: {exc}")
        finally:
            if self.conn:
                self.conn.close()


def rank(n: int, q: float) -> int:
    """The position of the q-th percentile among n sorted values (nearest rank)."""
    return min(n - 1, int(round(q / 100 * (n - 1))))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return sorted(values)[rank(len(values), q)]


def pct_ci(values: list[float], q: float, *, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """A 95% bootstrap interval of the q-th percentile: how far the printed p95 of a few hundred requests
    could move in another run of the same phase (a goal is met with confidence when the whole interval is)."""
    if len(values) < 20:
        return float("nan"), float("nan")
    data = np.asarray(values, dtype=np.float64)
    n, rng, stats = len(data), np.random.default_rng(seed), []
    at = rank(n, q)  # the order statistic `pct` reads
    for start in range(0, draws, 100):  # resamples 100 at a time: ~1 MB per 1K values, not draws x n at once
        samples = data[rng.integers(0, n, size=(min(100, draws - start), n))]
        stats.append(np.partition(samples, at, axis=1)[:, at])
    ordered = np.sort(np.concatenate(stats))
    return float(ordered[int(0.025 * draws)]), float(ordered[int(0.975 * draws) - 1])


def checks(campaign) -> dict:
    from django.db import connection

    sql = """
        WITH r AS (SELECT item_id, count(*) n FROM annotation_rating r JOIN annotation_batch b ON b.id = r.batch_id
                    WHERE b.decision <> 'rejected' GROUP BY item_id),
             l AS (SELECT item_id, count(*) n FROM annotation_task WHERE status = 'leased' GROUP BY item_id)
        SELECT count(*) FILTER (WHERE NOT i.is_golden AND coalesce(r.n, 0) + coalesce(l.n, 0) > i.target),
               count(*) FILTER (WHERE i.active_count <> coalesce(r.n, 0) + coalesce(l.n, 0))
          FROM annotation_item i LEFT JOIN r ON r.item_id = i.id LEFT JOIN l ON l.item_id = i.id
         WHERE i.campaign_id = %s"""
    with connection.cursor() as cur:
        cur.execute(sql, [campaign.pk])
        over, wrong = cur.fetchone()
        cur.execute(
            "SELECT count(*) FROM (SELECT 1 FROM annotation_rating GROUP BY annotator_id, item_id HAVING count(*) > 1) d"
        )
        dup = cur.fetchone()[0]
    return {"over_target": over, "counter_mismatch": wrong, "duplicate_ratings": dup}


def parse_phases(text: str) -> list[tuple[int, float]]:
    """ "16:0,64:1000" -> [(16, 0.0), (64, 1000.0)]."""
    out = []
    for part in text.split(","):
        n, _, think = part.strip().partition(":")
        out.append((int(n), float(think or 0)))
    return out


def run_phase(
    args,
    port: int,
    credentials: list[dict[str, str]],
    slug: str,
    *,
    think_ms: float,
    web_pgid: int,
    seconds: float,
    floor: bool = False,
) -> dict:
    """Run one phase; the sink's `rate` counts what completed after the ramp (all clients running), `cpu`
    says where the phase's CPU went per rating (batch requests included) or per floor request."""
    sink: dict[str, Any] = {
        "first_batch_ms": [],  # each annotator's first request of the phase (a new connection, a new profile)
        "later_batch_ms": [],  # the rest (batch_ms: both, set at the end)
        "rating_ms": [],
        "rating_t": [],
        "media_ms": [],
        "errors": [],
        "no_work": 0,
    }
    sink["batches_done"] = 0
    t0 = time.time()
    deadline = t0 + seconds
    workers = [
        Annotator(
            port=port,
            headers=headers,
            slug=slug,
            deadline=deadline,
            args=args,
            rng=random.Random(args.seed * 1000 + i),
            sink=sink,
            think_ms=think_ms,
            floor=floor,
        )
        for i, headers in enumerate(credentials)
    ]
    cpu_before = cpu_split.snapshot(web_pgid=web_pgid, wall=time.time()) if cpu_split.available() else None
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=seconds + 120)
    sink["batch_ms"] = sink["first_batch_ms"] + sink["later_batch_ms"]
    if cpu_before is not None:
        cpu_after = cpu_split.snapshot(web_pgid=web_pgid, wall=time.time())
        what = "floor request" if floor else "rating (batch requests included)"
        sink["cpu"] = cpu_split.describe(cpu_before, cpu_after, requests=len(sink["rating_ms"]), what=what)
    steady_from = t0 + min(args.ramp_s, seconds / 2)
    steady = [t for t in sink["rating_t"] if t >= steady_from]
    sink["rate"] = len(steady) / max(1e-9, deadline - steady_from)
    return sink


def main(argv=None) -> int:
    args = parse_args(argv)
    web_binary(args)  # stops at once, before minutes of seeding, when --web names a server not installed
    db_url = f"{args.server}/{args.db}"
    if args.reuse_db:
        args.keep_db = True
    else:
        admin_exec(args.server, f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
        admin_exec(args.server, f"CREATE DATABASE {args.db}")
    if args.wal_compression:
        # A superuser-only setting, set for this database's sessions alone (not the server's other databases).
        try:
            admin_exec(args.server, f"ALTER DATABASE {args.db} SET wal_compression = '{args.wal_compression}'")
        except Exception as exc:  # noqa: BLE001 - a server without lz4, or a role that may not set it
            print(f"wal_compression not set ({exc}); the server's own setting applies")
    web = None
    try:
        setup_django(db_url, args.broker)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        if args.media:
            print(f"annotators fetch each task's image before rating it ({write_sample_media()})")
        if args.reuse_db:
            from annotation.models import Campaign, Item

            campaign = Campaign.objects.get(slug="bench")
            print(f"reusing {args.db}: {Item.objects.filter(campaign=campaign).count()} items")
        else:
            info = seed(args)
            print(
                f"seeded {args.items} items ({args.generators} generators, golden {args.golden_fraction:.0%}), "
                f"{info['ratings']} ratings, {info['open_slots']} open rating slots in {info['seconds']:.1f} s"
            )
            campaign = info["campaign"]
        phases = parse_phases(args.phases)
        run = str(int(time.time()))
        credentials = {
            name: make_annotators(n, f"{run}-{name}", args.auth)
            for name, n in [("floor", args.floor_annotators)] + [(f"p{i}", n) for i, (n, _) in enumerate(phases)]
        }
        probe_user = get_user_model().objects.get(username=f"bench-ann-{run}-p0-0")
        plan = explain_assignment(campaign, probe_user.pk)
        print("assignment candidate query plan (EXPLAIN ANALYZE, first lines):")
        for line in plan:
            print("   ", line)
        with connection.cursor() as cur:
            cur.execute(FLOOR_CREATE_SQL)
        # Without autovacuum (some CI servers turn it off) the dead row versions of every phase stay in the
        # assignment pool's indexes for good, and each later batch request walks past them; the benchmark
        # vacuums between phases instead, as autovacuum would (migration 0009 makes it vacuum the item and
        # task tables after 2% of their rows). Reported, since it changes what the later phases measure.
        vacuum_between = not autovacuum_on(connection)
        if vacuum_between:
            print(
                "autovacuum is off on this server: the benchmark vacuums the churning tables between phases and "
                "analyzes them during each phase when autovacuum would (benchmarks/auto_analyze.py)"
            )
        connection.close()

        port = free_port()
        web = start_web(args, db_url, port)
        warm_up(port, credentials["p0"][0], 4 * args.workers * args.threads)
        print(
            f"{args.web}: {args.workers} workers x {args.threads} threads on 127.0.0.1:{port}"
            f"{_settings_named(args)}; phases of "
            f"{args.seconds:.0f} s, {args.think_seconds:.0f} s with a think time (annotators start within {args.ramp_s:.0f} s; rates count after that); "
            f"wal_compression {args.wal_compression or 'as the server has it'}; "
            f"throttle counters in {args.cache or 'each process memory'}; annotators authenticate by {args.auth}; "
            f"load average before: {os.getloadavg()[0]:.1f}"
        )
        errors: list[str] = []
        floor = None
        if args.floor_annotators:
            sink = run_phase(
                args,
                port,
                credentials["floor"],
                campaign.slug,
                think_ms=0,
                web_pgid=web.pid,
                seconds=args.seconds,
                floor=True,
            )
            floor = sink["rate"]
            r = sink["rating_ms"]
            print(
                f"floor (one insert in one transaction, {args.floor_annotators} clients, no think time): "
                f"{floor:.1f} requests/s, p50={pct(r, 50):.1f} ms  p95={pct(r, 95):.1f} ms"
            )
            if "cpu" in sink:
                print(sink["cpu"])
            errors += sink["errors"]
        results = []
        for i, (n, think) in enumerate(phases):
            if vacuum_between:  # also before the first: a --reuse-db database holds the last run's dead rows
                vacuum(connection, VACUUM_BETWEEN_PHASES)
                connection.close()
            seconds = args.think_seconds if think else args.seconds
            analyzer = AutoAnalyze(db_url, VACUUM_BETWEEN_PHASES) if vacuum_between else None
            if analyzer is not None:
                analyzer.start()
            sink = run_phase(
                args, port, credentials[f"p{i}"], campaign.slug, think_ms=think, web_pgid=web.pid, seconds=seconds
            )
            analyzed = analyzer.stop() if analyzer is not None else None  # the phase is over: so is its emulation
            results.append((n, think, sink))
            b, r = sink["batch_ms"], sink["rating_ms"]
            share = f" = {100 * sink['rate'] / floor:.0f}% of the floor" if floor and not think else ""
            print(f"-- {n} annotators, think {think:.0f} ms, {seconds:.0f} s: {sink['rate']:.1f} ratings/s{share}")
            if analyzer is not None:
                print(
                    f"   tables analyzed during the phase, as autovacuum would: {analyzed}"
                    + (f" (the analyzer failed: {analyzer.error})" if analyzer.error else "")
                )
            print(
                f"   batch requests: n={len(b)}  p50={pct(b, 50):.1f} ms  p95={pct(b, 95):.1f} ms  "
                f"p99={pct(b, 99):.1f} ms"
            )
            first, later = sink["first_batch_ms"], sink["later_batch_ms"]
            print(
                f"     of which each annotator's first (new connection and profile, all in the ramp): n={len(first)}  "
                f"p95={pct(first, 95):.1f} ms; the others: n={len(later)}  p50={pct(later, 50):.1f} ms  "
                f"p95={pct(later, 95):.1f} ms"
            )
            print(
                f"   ratings:        n={len(r)}  p50={pct(r, 50):.1f} ms  p95={pct(r, 95):.1f} ms  "
                f"p99={pct(r, 99):.1f} ms  mean {statistics.mean(r) if r else float('nan'):.1f} ms"
            )
            m = sink["media_ms"]
            if m:
                print(
                    f"   media GETs:     n={len(m)}  p50={pct(m, 50):.1f} ms  p95={pct(m, 95):.1f} ms  p99={pct(m, 99):.1f} ms"
                )
            print(
                f"   batches finished {sink['batches_done']}; annotators told 'no work' {sink['no_work']}; "
                f"errors {len(sink['errors'])}" + (f" (first: {sink['errors'][:3]})" if sink["errors"] else "")
            )
            if "cpu" in sink:
                print(sink["cpu"])
            errors += sink["errors"]
        print(f"load average after: {os.getloadavg()[0]:.1f} (this machine's {os.cpu_count()} cores are shared)")
        flat = [(n, s) for n, think, s in results if not think]
        if flat:
            print(
                "Label Studio-comparable (zero think time; Label Studio 1.23.2 on a 2-core machine: 4.1 annotations/s "
                "with 16 annotators, 3.6 with 64): "
                + ", ".join(f"{n} annotators {s['rate']:.1f} ratings/s" for n, s in flat)
            )
        for n, think, sink in results:
            if think:
                later = sink["later_batch_ms"]
                r_lo, r_hi = pct_ci(sink["rating_ms"], 95)
                b_lo, b_hi = pct_ci(sink["batch_ms"], 95)
                print(
                    f"{n} annotators at {think / 1000:g} s think time: rating p95 {pct(sink['rating_ms'], 95):.1f} ms "
                    f"(95% interval {r_lo:.1f}-{r_hi:.1f}; goal ≤ 20), batch p95 {pct(sink['batch_ms'], 95):.1f} ms "
                    f"(95% interval {b_lo:.1f}-{b_hi:.1f}, n={len(sink['batch_ms'])}; goal ≤ 50; "
                    f"{pct(later, 95):.1f} ms without each annotator's first)"
                )
        if flat and floor:
            best = max(s["rate"] for _, s in flat)
            print(f"saturation: {best:.1f} ratings/s (goal ≥ 600) = {100 * best / floor:.0f}% of the floor")
        result = checks(campaign)
        print(
            f"over-assignment check: items over target {result['over_target']}, counter mismatches "
            f"{result['counter_mismatch']}, duplicate (annotator, item) ratings {result['duplicate_ratings']}"
        )
        ok = not any(result.values()) and not errors
        print("RESULT:", "zero over-assignment" if ok else "PROBLEMS FOUND")
        return 0 if ok else 1
    finally:
        if web is not None:
            os.killpg(web.pid, signal.SIGTERM)
            try:
                web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - django may not be set up
            pass
        _purge_broker(args.broker)
        if not args.keep_db:
            admin_exec(args.server, f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")


def _purge_broker(broker: str) -> None:
    """Drop the scrutiny messages the run queued (no worker consumed them)."""
    try:
        import redis

        u = urlparse(broker)
        if u.scheme != "redis":
            return
        client = redis.Redis(host=u.hostname or "127.0.0.1", port=u.port or 6379, db=int((u.path or "/0")[1:] or 0))
        client.delete("default")
    except Exception as exc:  # noqa: BLE001
        print(f"(could not purge the broker queue: {exc})")


if __name__ == "__main__":
    raise SystemExit(main())
