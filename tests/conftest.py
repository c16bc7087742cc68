"""Fixtures shared by the whole suite. Tests hit the real PostgreSQL (config.settings.test)."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.celery_worker import celery_worker  # noqa: F401  (fixture)
from tests.factories import CampaignFactory, UserFactory


@pytest.fixture
def make_user(db):
    def _make(role: str | None = "annotator", **kwargs):
        return UserFactory(role=role, **kwargs)

    return _make


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_as(make_user):
    """`client_as("researcher")` -> (APIClient logged in by token, user)."""
    from annotation.services.users import user_token

    def _client(role: str = "annotator", user=None):
        user = user or make_user(role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {user_token(user=user)}")
        return client, user

    return _client


@pytest.fixture
def campaign(db):
    return CampaignFactory()
