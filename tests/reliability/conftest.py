"""Celery is eager in these tests unless a test points it at a broker itself (helpers.app_broker): the
session's real worker fixture turns eagerness off for the rest of the session once a test has used it."""

import pytest


@pytest.fixture(autouse=True)
def eager_celery():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
