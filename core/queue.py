"""Celery tasks by name: services enqueue work by the task's registered name ("training.execute_run"), never by
importing the tasks module, so tasks (which import services) and services do not import each other."""

from __future__ import annotations

from typing import Any


def task_named(name: str) -> Any:
    """The registered Celery task `name` (autodiscovered task modules are loaded first; a no-op once loaded)."""
    from config.celery import app

    app.loader.import_default_modules()
    return app.tasks[name]


def eager() -> bool:
    """True when tasks run in the calling process (CELERY_TASK_ALWAYS_EAGER: the tests)."""
    from config.celery import app

    return bool(app.conf.task_always_eager)
