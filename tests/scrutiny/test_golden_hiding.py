"""Golden items cannot be told apart, and are spent where they are needed.

- Adaptive allocation (calibrated method): newcomers get the most golden items, long good records the
  fewest (never 0), and a batch's size never depends on it.
- An attacker who takes the identifiers an annotator sees and picks the ones farthest from the batch's
  median (the attack that found golden items with 81-92% precision when payloads carried item ids and
  regular items were handed out in id order) does no better than chance; neither does the same attack
  on the true item ids (regular items equally full are picked at random).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from rest_framework.test import APIClient

from annotation.models import AnnotatorEvidence, Batch, Task
from annotation.services.assignment import batch_request
from tests.assignment.conftest import make_pool
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def calibrated_campaign(**kw):
    return CampaignFactory(
        scrutiny_method="calibrated",
        batch_size=6,
        golden_per_batch=4,
        golden_min_per_batch=2,
        golden_max_per_batch=8,
        **kw,
    )


def golden_count(batch) -> int:
    return batch.tasks.filter(is_golden=True).count()


def test_newcomers_get_the_most_golden_items_and_the_batch_size_stays(make_user):
    campaign = calibrated_campaign()
    make_pool(campaign, n=40, generators=2, golden=30)
    batch, _ = batch_request(campaign=campaign, user=make_user("annotator"))
    assert (golden_count(batch), batch.tasks.count()) == (8, 10)


@pytest.mark.parametrize(
    "p, n_golden, recent, expected",
    [
        (0.99, 100, "approved", 2),  # long good record: the floor
        (0.99, 30, "approved", 4),  # conclusive, short record: the campaign's number
        (0.80, 100, "approved", 8),  # not conclusive: the most
        (0.99, 100, "needs_review", 8),  # a recent batch held: the most again
    ],
)
def test_allocation_follows_the_evidence(make_user, p, n_golden, recent, expected):
    campaign = calibrated_campaign()
    make_pool(campaign, n=40, generators=2, golden=30)
    user = make_user("annotator")
    AnnotatorEvidence.objects.create(campaign=campaign, annotator=user, p_genuine=p, n_golden=n_golden)
    for _ in range(3):
        Batch.objects.create(campaign=campaign, annotator=user, status="closed", decision=recent)
    batch, _ = batch_request(campaign=campaign, user=user)
    assert (golden_count(batch), batch.tasks.count()) == (expected, 10)


def test_the_fixed_method_keeps_the_campaigns_number(make_user):
    campaign = calibrated_campaign()
    campaign.scrutiny_method = "fixed"
    campaign.save()
    make_pool(campaign, n=40, generators=2, golden=30)
    batch, _ = batch_request(campaign=campaign, user=make_user("annotator"))
    assert (golden_count(batch), batch.tasks.count()) == (4, 10)


def _farthest(values: list[int], k: int) -> set[int]:
    """The k positions whose value is farthest from the median (the attack)."""
    median = float(np.median(values))
    order = sorted(range(len(values)), key=lambda i: -abs(values[i] - median))
    return set(order[:k])


def _upper_bound(p: float, n: int, cluster: int = 1) -> float:
    """Three standard errors above chance for n predictions made `cluster` at a time whose hits may all go
    together (variance at most `cluster` times the binomial's)."""
    return p + 3 * math.sqrt(cluster * p * (1 - p) / n)


def test_the_median_attack_does_no_better_than_chance(make_user):
    # A campaign like the one the attack was measured on: many regular items over several generators,
    # a small golden sample drawn from anywhere in the id range.
    campaign = CampaignFactory(batch_size=10, golden_per_batch=3, ratings_per_image=2)
    items = make_pool(campaign, n=400, generators=4)
    rng = np.random.default_rng(5)
    golden_ids = rng.choice([i.pk for i in items], size=20, replace=False).tolist()
    items[0].__class__.objects.filter(pk__in=golden_ids).update(is_golden=True)

    hits = seen_hits = predictions = 0
    for _ in range(40):
        user = make_user("annotator")
        client = APIClient()
        client.force_authenticate(user)
        body = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
        tasks = body["tasks"]
        golden_tasks = set(Task.objects.filter(batch_id=body["id"], is_golden=True).values_list("pk", flat=True))
        truth = {i for i, t in enumerate(tasks) if t["id"] in golden_tasks}
        # everything numeric an annotator sees of a task: its id and the numbers in its URLs
        for task in tasks:
            for key in task:
                assert "item" not in key
            assert re.fullmatch(rf"/api/v1/tasks/{task['id']}/(media|thumbnail)/", task["media_url"])
        visible = [t["id"] for t in tasks]
        hits += len(_farthest(visible, len(truth)) & truth)
        # the same attack on what the server knows (the true item ids): regular items are not in id order
        item_ids = dict(Task.objects.filter(batch_id=body["id"]).values_list("pk", "item_id"))
        seen_hits += len(_farthest([item_ids[t["id"]] for t in tasks], len(truth)) & truth)
        predictions += len(truth)
    chance = 3 / 13
    assert predictions == 120
    assert hits / predictions <= _upper_bound(chance, predictions), hits / predictions
    # a batch's golden items are consecutive in the golden sample (one scan from a random pivot), so on the
    # true item ids its 3 hits go together: the bound counts each batch's 3 as one draw, not 3 independent ones
    # (the binomial bound failed once in CI at 44/120 while the same attack on 40 golden samples here ranged
    # 3-30). The attack this guards against found golden items with 81-92% precision.
    assert seen_hits / predictions <= _upper_bound(chance, predictions, cluster=3), seen_hits / predictions
