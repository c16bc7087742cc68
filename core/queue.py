"""Celery tasks by name: services enqueue work by the task's registered name ("training.execute_run"), never by
importing the tasks module, so tasks (which import services) and services do not import each other."""

from __future__ import annotations

import threading
from typing import Any

_modules_loaded = False
_modules_lock = threading.Lock()


def task_named(name: str) -> Any:
    """The registered Celery task `name`. The autodiscovered task modules are loaded once per process, at the
    first call: Celery's loader sends its `import_modules` signal at every `import_default_modules()`, and its
    Django fix-up answers that signal by running all of Django's system checks (~20 ms of CPU), which a web
    process would otherwise pay at every message it publishes (each closing batch queues its scrutiny)."""
    global _modules_loaded
    from config.celery import app

    if not _modules_loaded:
        with _modules_lock:
            if not _modules_loaded:
                app.loader.import_default_modules()
                _modules_loaded = True
    return app.tasks[name]


def eager() -> bool:
    """True when tasks run in the calling process (CELERY_TASK_ALWAYS_EAGER: the tests)."""
    from config.celery import app

    return bool(app.conf.task_always_eager)
