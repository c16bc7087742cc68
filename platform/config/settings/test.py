"""Test profile: the real PostgreSQL and Redis of this machine (DATABASE_URL / CELERY_BROKER_URL
override the defaults), eager Celery except in tests that start a real worker, media in a temp folder."""

import os
import tempfile
from pathlib import Path

import dj_database_url

from .base import *  # noqa: F401,F403

DEBUG = False
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qeval"), conn_max_age=0
    )
}
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}  # type: ignore[no-redef]
# Eager unless a test starts a real worker (tests/celery_worker.py), which runs with this set to false.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true").lower() == "true"
# One temp folder per test run; a real worker started by the tests is handed the same one.
_tmp = Path(os.environ.get("QEVAL_TEST_TMP") or tempfile.mkdtemp(prefix="qeval-test-"))
os.environ["QEVAL_TEST_TMP"] = str(_tmp)
MEDIA_ROOT = _tmp / "media"
EXPORT_ROOT = _tmp / "exports"
TRAINING_ROOT = _tmp / "training"
GENERATION_ROOT = _tmp / "generation"
IMPORT_ROOTS = [_tmp / "imports"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Quotas and throttles sized for a test suite that makes hundreds of jobs and requests per user; the tests
# of each bound set its own value (override_settings).
QEVAL_MAX_ACTIVE_JOBS_PER_USER = 1000
QEVAL_EXPORT_MIN_FREE_BYTES = 0
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min", "job_start": "100000/min"},
}
# Webhook retries in tests: quick, and give up after three tries (the real worker reads these too).
WEBHOOK_BACKOFF_S = 0.5
WEBHOOK_MAX_ATTEMPTS = 3
WEBHOOK_TIMEOUT_S = 3.0
# The delivery tests' receivers listen on this machine; the tests of the guard set it empty.
WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
