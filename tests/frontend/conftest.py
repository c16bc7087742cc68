"""Fixtures of the frontend tests: logged-in clients per role, a campaign with leased tasks, the research
fixtures of tests/mos."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.mos.conftest import rate, rated, write_media  # noqa: F401  (fixtures and helpers)
from tests.rating_ui.conftest import media_campaign  # noqa: F401  (a campaign with real media files)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The statistics pages cache figures per version: start every test without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def logged_in(make_user):
    """`logged_in("admin")` -> (django test Client logged in, user)."""

    def _client(role: str = "annotator", **kwargs):
        user = make_user(role, **kwargs)
        client = Client()
        client.force_login(user)
        return client, user

    return _client


@pytest.fixture
def leased(db, make_user):
    """A campaign of 6 regular and 2 golden items (batch 4 + 2 golden), and an annotator holding a batch."""
    from annotation.models import GoldenScore
    from annotation.services.assignment import batch_request
    from tests.factories import CampaignFactory, ItemFactory

    campaign = CampaignFactory(batch_size=4, golden_per_batch=2, golden_min_per_batch=2, golden_max_per_batch=2)
    items = [ItemFactory(campaign=campaign) for _ in range(6)]
    golden = [ItemFactory(campaign=campaign, is_golden=True) for _ in range(2)]
    for g in golden:
        for dim in ("quality", "alignment"):
            GoldenScore.objects.create(item=g, dimension=dim, score=3.0, source="imported")
    user = make_user("annotator")
    batch, _ = batch_request(campaign=campaign, user=user)
    return campaign, items, golden, user, batch
