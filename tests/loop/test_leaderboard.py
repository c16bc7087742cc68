"""The live leaderboard: ranks, intervals and separation from approved ratings only."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.models import Batch, Rating
from annotation.services.leaderboard import leaderboard
from tests.factories import CampaignFactory, GeneratorFactory, ItemFactory

pytestmark = pytest.mark.django_db


def seeded(make_user, *, means, per_gen=12, decision=Batch.Decision.APPROVED, seed=0):
    rng = np.random.default_rng(seed)
    campaign = CampaignFactory(rate_alignment=False)
    raters = [make_user("annotator") for _ in range(3)]
    batches = [Batch.objects.create(campaign=campaign, annotator=r, status="closed", decision=decision) for r in raters]
    for g, mean in enumerate(means):
        gen = GeneratorFactory(name=f"lb-{campaign.slug}-{g}")
        for _ in range(per_gen):
            item = ItemFactory(campaign=campaign, generator=gen)
            for r, b in zip(raters, batches):
                Rating.objects.create(
                    annotator=r, item=item, batch=b, quality=int(np.clip(np.rint(mean + rng.normal(0, 0.7)), 1, 5))
                )
    return campaign


def test_generators_are_ranked_with_intervals_and_separation(make_user):
    campaign = seeded(make_user, means=[4.5, 2.0, 3.9, 3.85])
    board = leaderboard(campaign=campaign, use_cache=False)
    (quality,) = board["boards"]
    names = [g["generator"] for g in quality["generators"]]
    assert names[0].endswith("-0") and names[-1].endswith("-1")
    top = quality["generators"][0]
    assert top["items"] == 12 and top["ratings"] == 36 and top["ci95"][0] < top["mos"] < top["ci95"][1]
    item_means = [
        np.mean(list(Rating.objects.filter(item=i).values_list("quality", flat=True)))
        for i in campaign.items.filter(generator__name=top["generator"])
    ]
    assert top["mos"] == pytest.approx(float(np.mean(item_means)), abs=1e-4)
    # 4.5 vs 3.9 separated; 3.9 vs 3.85 not, with an estimate or a reason
    assert quality["generators"][0]["next"]["separated"] is True
    close = quality["generators"][1]["next"]
    assert close["separated"] is False and (close["more_ratings"] or close["why"])


def test_only_approved_ratings_count(make_user):
    campaign = seeded(make_user, means=[4, 2], decision=Batch.Decision.NEEDS_REVIEW)
    assert leaderboard(campaign=campaign, use_cache=False)["boards"] == []


def test_leaderboard_api_and_live_page(make_user, client_as):
    campaign = seeded(make_user, means=[4, 2])
    client, _ = client_as("researcher")
    body = client.get(f"/api/v1/campaigns/{campaign.slug}/leaderboard/").json()
    assert body["boards"][0]["dimension"] == "quality"
    annotator, _ = client_as("annotator")
    assert annotator.get(f"/api/v1/campaigns/{campaign.slug}/leaderboard/").status_code == 403
    from django.test import Client

    page = Client()
    page.force_login(make_user("researcher"))
    html = page.get(f"/research/{campaign.slug}/live/").content.decode()
    assert "svg" in html and "leaderboard" in html
