"""The production settings pass `manage.py check --deploy` and refuse an insecure secret key."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            "SECURE_SSL_REDIRECT",
            "AWS_STORAGE_BUCKET_NAME",
            # set by the browser fixtures while Chromium is open; never in a deployment
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    full = dict(
        base,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qeval"),
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=180
    )


def test_check_deploy_passes_with_no_warnings():
    """Django's deployment (security) checks: no warnings at all. The whole `check --deploy` exits 0
    (drf-spectacular adds schema-quality warnings of its own to it; the schema has its own test)."""
    env = {"SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "qeval.example.org"}
    proc = manage("check", "--deploy", "--tag", "security", "--fail-level", "WARNING", **env)
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues (0 silenced)." in proc.stdout
    full = manage("check", "--deploy", **env)
    assert full.returncode == 0, full.stderr
    assert "security.W" not in full.stdout + full.stderr


def test_production_refuses_the_insecure_default_key():
    proc = manage("check", ALLOWED_HOSTS="qeval.example.org")
    assert proc.returncode != 0
    assert "production needs SECRET_KEY set to a random string of 50+ characters" in proc.stderr


def test_production_refuses_a_short_key():
    proc = manage("check", SECRET_KEY="short-but-not-insecure-prefix", ALLOWED_HOSTS="qeval.example.org")
    assert proc.returncode != 0
    assert "50+ characters" in proc.stderr
