"""The screening scorer is compared with the human MOS of approved dataset ratings only: expert batches
(auto-approved, they make the golden scores) never enter a MOS (docs/scrutiny.md, docs/mos.md)."""

from __future__ import annotations

import pytest

from annotation.models import Batch
from tests.factories import CampaignFactory, ItemFactory, UserFactory
from tests.scrutiny.conftest import closed_batch
from training.models import ItemPrediction, Scorer, ScreeningPolicy
from training.services.screening import screening_agreement, screening_disagreement


@pytest.mark.django_db
def test_expert_ratings_do_not_enter_the_mos_the_scorer_is_held_against():
    campaign = CampaignFactory(batch_size=4)
    items = [ItemFactory(campaign=campaign, is_golden=(i == 0)) for i in range(4)]
    scorer = Scorer.objects.create(name=f"screen-{campaign.slug}", path="/nonexistent")
    ScreeningPolicy.objects.create(campaign=campaign, scorer=scorer, hold_probability=1.0)
    for item, pred in zip(items, (1.0, 2.0, 3.0, 4.0)):
        for dim in campaign.dimensions:
            ItemPrediction.objects.create(item=item, scorer=scorer, dimension=dim, prediction=pred, probs={})
    # two annotators rate every item (approved); two experts rate the golden item 5 (expert batches, approved)
    for _ in range(2):
        closed_batch(
            campaign,
            UserFactory(),
            [(item, score, score) for item, score in zip(items, (1, 2, 3, 4))],
            decision=Batch.Decision.APPROVED,
        )
        closed_batch(
            campaign, UserFactory(), [(items[0], 5, 5)], kind=Batch.Kind.EXPERT, decision=Batch.Decision.APPROVED
        )
    out = screening_agreement(campaign=campaign)
    assert out["dimensions"]["quality"] == {"n": 4, "srcc": 1.0, "plcc": 1.0}
    assert all(d["difference"] == 0 for d in out["disagreements"])
    bonus = screening_disagreement(campaign=campaign)
    assert bonus[items[0].pk] == bonus[items[1].pk]
