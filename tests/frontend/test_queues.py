"""Queues that do not block each other, in the embedded default as in production: the workers `make run`
starts (platform/scripts/embedded_workers.sh: one for platform jobs, one for training and generation, on the
filesystem transport) finish a platform job while a training task holds its worker."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from annotation.models import Job
from annotation.services.jobs import job_create

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
HOLD_S = 20


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout:.0f} s")


def test_a_platform_job_does_not_wait_for_a_training_task(tmp_path, monkeypatch):
    db = settings.DATABASES["default"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        QEVAL_VAR_DIR=str(tmp_path),
        DEBUG="false",
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
        WORKER_LOGLEVEL="INFO",
        CELERY=str(Path(os.sys.executable).parent / "celery"),
    )
    env.pop("CELERY_BROKER_URL", None)  # the embedded default: kombu's filesystem transport under QEVAL_VAR_DIR
    workers = subprocess.Popen(
        ["bash", "platform/scripts/embedded_workers.sh"], cwd=ROOT, env=env, start_new_session=True
    )
    default_log, training_log = tmp_path / "worker.log", tmp_path / "worker-training.log"
    try:
        _wait(
            lambda: all(p.exists() and "ready." in p.read_text() for p in (default_log, training_log)),
            90,
            "both workers ready",
        )
        broker = tmp_path / "broker"
        monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to the broker given here
        # Not the current app: the platform's tasks must keep sending to the suite's own broker afterwards.
        sender = Celery("sender", broker="filesystem://", set_as_current=False)
        sender.conf.broker_transport_options = {
            "data_folder_in": str(broker / "queue"),
            "data_folder_out": str(broker / "queue"),
            "processed_folder": str(broker / "processed"),
            "control_folder": str(broker / "control"),
            "store_processed": False,
        }
        sender.send_task("training.ping", args=[HOLD_S], queue="training")
        _wait(
            lambda: re.search(r"training\.ping\[[^]]+\] received", training_log.read_text()),
            30,
            "the training worker took the ping",
        )
        job = job_create(kind="selfcheck", params={"steps": 2})
        started = time.monotonic()
        sender.send_task("annotation.run_job", args=[job.pk], queue="default")
        _wait(lambda: Job.objects.get(pk=job.pk).status == "succeeded", 15, "the platform job finished")
        took = time.monotonic() - started
        assert took < HOLD_S / 2, took
        assert not re.search(r"training\.ping\[[^]]+\] succeeded", training_log.read_text())  # still holding
    finally:
        os.killpg(workers.pid, signal.SIGTERM)
        workers.wait(timeout=30)
