"""A real Celery worker process against the real Redis, for the tests that are about tasks.

Use the `celery_worker` fixture together with `@pytest.mark.django_db(transaction=True)`: the worker is
a separate process, so it only sees committed rows. It runs with the test settings, the test
database, the same media folder, and a Redis database of its own (CELERY_BROKER_URL's, default db 9: give each
concurrent run of the suite its own) that is flushed first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """The worker process, started once for the session by the first test that asks for `celery_worker`."""
    import redis
    from django.conf import settings

    broker = settings.CELERY_BROKER_URL
    try:
        redis.Redis.from_url(broker).flushdb()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {broker}: {exc} (run `make services`)")
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=url,
        CELERY_BROKER_URL=broker,
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,training,generation",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: "ready." in log.read_text() or proc.poll() is not None, timeout=90, what="the worker")
        if proc.poll() is not None:
            pytest.fail(f"the Celery worker exited at start:\n{log.read_text()[-3000:]}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.environ.get("QEVAL_SHOW_WORKER_LOG"):
            print(log.read_text())


@pytest.fixture
def celery_worker(celery_worker_process):
    """The session's real worker, with this test's tasks sent to it through the broker instead of run in the
    test's process (the test settings' eagerness), for this test only: a later test that closes a batch or
    enqueues through the outbox runs its tasks in its own process again, not on the worker against its tables
    while its teardown empties them (CI saw that deadlock with the flush's TRUNCATE, 2026-12-01)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield celery_worker_process
    app.conf.task_always_eager = previous
