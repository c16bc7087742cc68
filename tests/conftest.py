"""Fixtures shared by the whole suite. Tests hit the real PostgreSQL (config.settings.test).

Django-dependent imports stay inside the fixtures, so that the Django-free test folders
(tests/scorer, tests/aggregation) also run with `-p no:django`.
"""

from __future__ import annotations

import pytest

from tests.celery_worker import celery_worker, celery_worker_process  # noqa: F401  (fixtures)


@pytest.fixture
def make_user(db):
    from tests.factories import UserFactory

    def _make(role: str | None = "annotator", **kwargs):
        return UserFactory(role=role, **kwargs)

    return _make


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_as(make_user):
    """`client_as("researcher")` -> (APIClient logged in by token, user)."""
    from rest_framework.test import APIClient

    from annotation.services.users import user_token

    def _client(role: str = "annotator", user=None):
        user = user or make_user(role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {user_token(user=user)}")
        return client, user

    return _client


@pytest.fixture
def campaign(db):
    from tests.factories import CampaignFactory

    return CampaignFactory()


from tests.browser import browser, page  # noqa: E402,F401  (real-Chromium fixtures, see tests/browser.py)


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server (what the browser tests drive), serving the handler config/wsgi.py serves:
    the fast lane in front of the middleware chain (core/api/lean_dispatch.py), so a real Chromium's ratings
    and batch requests (session cookie, CSRF token) take the path they take under gunicorn."""
    import os

    import django.test.testcases as testcases
    from pytest_django import live_server_helper

    from core.api.lean_dispatch import LeanWSGIHandler

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    plain, testcases.WSGIHandler = testcases.WSGIHandler, LeanWSGIHandler
    try:
        server = live_server_helper.LiveServer(addr)  # returns once its thread has made the handler
    finally:
        testcases.WSGIHandler = plain
    app = server.thread.httpd.get_app()  # the static and media files handlers, around the one we made
    while not isinstance(app, LeanWSGIHandler) and hasattr(app, "application"):
        app = app.application
    assert isinstance(app, LeanWSGIHandler)
    yield server
    server.stop()
