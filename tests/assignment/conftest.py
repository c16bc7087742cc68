"""Fixtures of the assignment tests: a campaign with a pool of items over several generators."""

from __future__ import annotations

import pytest

from annotation.models import Item, Rating, Task
from tests.factories import CampaignFactory, GeneratorFactory, ItemFactory


def make_pool(campaign, *, n: int = 12, generators: int = 3, golden: int = 0, target: int | None = None):
    """n regular items spread over `generators` generators, plus `golden` golden items."""
    gens = [GeneratorFactory(name=f"{campaign.slug}-gen-{g}") for g in range(generators)]
    items = []
    for i in range(n + golden):
        extra = {"target": target} if target is not None else {}
        items.append(ItemFactory(campaign=campaign, generator=gens[i % generators], is_golden=i >= n, **extra))
    return items


def table_counts() -> dict:
    """Row counts and counters that a refused request must leave unchanged."""
    return {
        "ratings": Rating.objects.count(),
        "tasks": sorted(Task.objects.values_list("pk", "status", "lease_expires_at")),
        "active": sorted(Item.objects.values_list("pk", "active_count")),
    }


@pytest.fixture
def open_batch(make_user):
    """An annotator, the ids of the four tasks of their open batch (in position order), the batch."""
    from annotation.services.assignment import batch_request

    campaign = CampaignFactory(batch_size=4, golden_per_batch=0)
    make_pool(campaign, n=6, generators=2)
    user = make_user("annotator")
    batch, _ = batch_request(campaign=campaign, user=user)
    return user, list(batch.tasks.order_by("position").values_list("pk", flat=True)), batch


@pytest.fixture
def pool_campaign(db):
    campaign = CampaignFactory(batch_size=4, golden_per_batch=2)
    make_pool(campaign, n=12, generators=3, golden=4)
    return campaign
