"""Every API error is JSON; a database that refuses connections is 503 with Retry-After (never an HTML page);
the connection pool bounds each process's connections."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client, override_settings

from tests.celery_worker import ROOT
from tests.reliability.helpers import database_url

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.reliability.urls")]


def test_a_database_at_capacity_answers_503_json_with_retry_after():
    response = Client().get("/api/v1/test/db-full/")
    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert response.json() == {"detail": "the database has no free connection right now; try again shortly"}


def test_a_bug_answers_500_json_without_traceback_or_path():
    response = Client(raise_request_exception=False).get("/api/v1/test/bug/")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error (RuntimeError); it was logged"}
    assert b"/srv/secret" not in response.content


def test_an_unknown_api_url_answers_json_404_and_pages_keep_html():
    response = Client().get("/api/v1/no-such-thing/")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "no API endpoint at this address; the list is at /api/docs/"},
    )
    assert Client().get("/no-such-page/").status_code == 404


def test_a_page_whose_database_is_down_answers_a_short_503():
    response = Client(raise_request_exception=False).get("/test/page-db-down/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.content.startswith(b"the database has no free connection") and len(response.content) < 200


def test_debug_is_off_in_base_settings_unless_asked_for():
    def debug(env: dict) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "DEBUG"}
        out = subprocess.run(
            [sys.executable, "-c", "import config.settings.base as b; print(b.DEBUG)"],
            env={**clean, **env, "PYTHONPATH": f"{ROOT}:{ROOT / 'platform'}"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    assert debug({}) == "False"
    assert debug({"DEBUG": "true"}) == "True"
    # make run keeps DEBUG off too (the styled error pages); DEBUG=true make run for Django's debug pages
    assert 'export DEBUG="${DEBUG:-false}"' in (ROOT / "platform/scripts/run_local.sh").read_text()


@pytest.mark.django_db(transaction=True)
def test_the_pool_bounds_connections_and_a_request_that_finds_none_free_gets_503():
    """A real process on the base settings with a pool of 2: six threads share 2 server connections, and a
    request while both are held answers 503 + Retry-After after DB_POOL_TIMEOUT."""
    from annotation.services.users import user_token
    from tests.factories import UserFactory

    token = user_token(user=UserFactory(role="researcher"))
    script = f"""
import json, threading, django
django.setup()
from django.db import connection
from django.test import Client
pids, lock = set(), threading.Lock()
def work():
    with connection.cursor() as c:
        c.execute("select pg_backend_pid(), pg_sleep(0.3)")
        with lock: pids.add(c.fetchone()[0])
    connection.close()
threads = [threading.Thread(target=work) for _ in range(6)]
[t.start() for t in threads]; [t.join() for t in threads]
hold = threading.Event(); held = threading.Barrier(3)
def hog():
    with connection.cursor() as c:
        c.execute("select 1"); held.wait(); hold.wait(10)
    connection.close()
hogs = [threading.Thread(target=hog) for _ in range(2)]
[t.start() for t in hogs]; held.wait()
r = Client(HTTP_AUTHORIZATION="Token {token}").get("/api/v1/jobs/1/")
hold.set(); [t.join() for t in hogs]
print(json.dumps({{"pids": len(pids), "status": r.status_code, "retry": r.get("Retry-After"), "body": r.json()}}))
"""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": database_url(),
        "DB_POOL_MAX_SIZE": "2",
        "DB_POOL_MIN_SIZE": "0",
        "DB_POOL_TIMEOUT": "1",
        "ALLOWED_HOSTS": "testserver",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'platform'}",
    }
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["pids"] <= 2  # six threads, at most two server connections
    assert (result["status"], result["retry"]) == (503, "5")
    assert "no free connection" in result["body"]["detail"]


@override_settings(QEVAL_MAX_UPLOAD_BYTES=10)
def test_a_body_over_the_limit_is_413_json_on_any_api_url():
    response = Client().post("/api/v1/test/fine/", data="x" * 100, content_type="text/plain")
    assert response.status_code == 413 and "QEVAL_MAX_UPLOAD_BYTES" in response.json()["detail"]
