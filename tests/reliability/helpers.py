"""Real parts for the fault tests: a private Redis server (so that a test can take the broker away without
touching anyone else's), the in-process Celery app pointed at it, and a private Celery worker process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from tests.celery_worker import ROOT, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """redis-server on a port of its own, no persistence; stop() is a broker outage, start() its end."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what="redis-server")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def queue_length(self, queue: str = "default") -> int:
        import redis

        return redis.Redis.from_url(self.url).llen(queue)


def reset_pools(app) -> None:
    app._pool = None
    try:
        app.__dict__["amqp"]._producer_pool = None
    except (AttributeError, KeyError):
        pass


@contextmanager
def app_broker(url: str):
    """The test process's Celery app publishes to `url`, for real (not eager), inside the block."""
    from config.celery import app

    # broker_url itself is read from CELERY_BROKER_URL in the environment first; the write URL is ours to set.
    old = (app.conf.get("broker_write_url"), app.conf.task_always_eager)
    app.conf.broker_write_url, app.conf.task_always_eager = url, False
    reset_pools(app)
    try:
        yield app
    finally:
        app.conf.broker_write_url, app.conf.task_always_eager = old
        reset_pools(app)


def database_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(broker_url: str, log: Path, *, extra_env: dict | None = None, beat: bool = False) -> subprocess.Popen:
    """A Celery worker process of its own (solo pool: the main process does the work), in its own process
    group so that a test can kill it whole."""
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker_url,
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
        **(extra_env or {}),
    )
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        "default,training,generation",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if beat:
        cmd += ["-B", f"--schedule={log.parent / 'beat-schedule'}"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_for(lambda: "ready." in log.read_text() or proc.poll() is not None, timeout=90, what="the worker")
    assert proc.poll() is None, log.read_text()[-3000:]
    return proc


def kill_whole(proc: subprocess.Popen) -> None:
    """SIGKILL the worker's whole process group: main process and any child, no chance to clean up."""
    import signal

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_whole(proc)


def elapsed(fn) -> tuple[float, object]:
    t0 = time.monotonic()
    value = fn()
    return time.monotonic() - t0, value
