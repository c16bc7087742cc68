"""End to end on a real Celery worker and Redis: the last rating closes the batch, batch_closed_notify
queues `annotation.scrutinize_batch`, and the worker stores the figures and the decision."""

import pytest

from annotation.models import Batch, GoldenScore
from annotation.services.assignment import batch_request
from annotation.services.ratings import rating_submit
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory, ItemFactory
from tests.scrutiny.conftest import GOLDEN_A, make_golden


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_closed_batch_is_scrutinized_by_a_real_worker(celery_worker, make_user):
    campaign = CampaignFactory(batch_size=2, golden_per_batch=10, min_golden=8)
    make_golden(campaign)
    for _ in range(2):
        ItemFactory(campaign=campaign)
    golden = {(g.item_id, g.dimension): g.score for g in GoldenScore.objects.all()}
    annotator = make_user("annotator")
    batch, created = batch_request(campaign=campaign, user=annotator)
    assert created and batch.tasks.count() == 12
    for task in batch.tasks.order_by("position"):
        scores = {d: round(golden.get((task.item_id, d), 3)) for d in ("quality", "alignment")}
        rating_submit(task_id=task.pk, user=annotator, scores=scores)
    assert Batch.objects.get(pk=batch.pk).status == "closed"
    done = wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, scrutinized_at__isnull=False).first(),
        timeout=60,
        what="the worker's scrutiny of the batch",
    )
    assert (done.decision, done.decision_source) == ("approved", "auto")
    assert done.scrutiny["quality"]["n_golden"] == 10 and done.scrutiny["quality"]["srcc"] > 0.9
    assert done.scrutiny["alignment"]["n_golden"] == len(GOLDEN_A) == 10
