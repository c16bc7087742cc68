"""The web container's gunicorn settings (platform/docker/gunicorn.conf.py), read as gunicorn reads them and served
by a real gunicorn: the app preloaded in the master, workers recycled rarely (each recycled worker a fork of the
preloaded master), and the environment switches that change them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "platform" / "docker" / "gunicorn.conf.py"


def settings_with(**env: str) -> dict:
    """The settings file's values under this environment, as gunicorn's config loader executes it."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        namespace: dict = {}
        exec(compile(SETTINGS.read_text(), str(SETTINGS), "exec"), namespace)
        return namespace
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_app_is_preloaded_and_workers_are_recycled_rarely_by_default():
    values = settings_with()
    assert values["preload_app"] is True
    assert values["max_requests"] >= 10_000 and values["max_requests_jitter"] == values["max_requests"] // 10
    assert values["worker_class"] == "gthread" and values["threads"] == 4 and values["workers"] >= 2
    assert values["accesslog"] is None  # nginx logs each request


def test_the_environment_switches_them():
    values = settings_with(GUNICORN_PRELOAD="false", GUNICORN_MAX_REQUESTS="0", GUNICORN_ACCESS_LOG="-")
    assert values["preload_app"] is False and values["max_requests"] == 0 and values["accesslog"] == "-"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict | list]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db(transaction=True)  # the server process reads the user and token this test commits
def test_a_real_gunicorn_serves_the_app_from_these_settings_through_worker_recycling(make_user):
    """One worker recycled every 5 requests: every request is answered, by workers forked one after the other
    from the preloaded master, each opening its own database connections (none is inherited from the master)."""
    from django.db import connection

    from annotation.services.users import user_token

    db = connection.settings_dict
    token = user_token(user=make_user("annotator"))
    gunicorn = Path(sys.executable).parent / "gunicorn"
    port = _free_port()
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        PYTHONPATH=f"{ROOT}:{ROOT / 'platform'}",
        DJANGO_SETTINGS_MODULE="config.settings.base",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DEBUG="false",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="1",
        GUNICORN_MAX_REQUESTS="5",
        GUNICORN_ACCESS_LOG="",
        LOG_LEVEL="info",
    )
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi", "-c", str(SETTINGS)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.2)
        # the annotator's batches (the token and the batches read from the database), and without credentials
        # the API's 401, in turn
        answers = [
            _get(f"http://127.0.0.1:{port}/api/v1/batches/", {"Authorization": f"Token {token}"} if i % 2 else {})
            for i in range(20)
        ]
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
    assert [status for status, _ in answers] == [401, 200] * 10, log
    assert all(body == [] or body.get("results") == [] for status, body in answers if status == 200)
    # max_requests 5 with jitter 0: the worker was replaced at least three times
    assert log.count("Booting worker") >= 4, log
    assert log.count("Autorestarting worker") >= 3, log
