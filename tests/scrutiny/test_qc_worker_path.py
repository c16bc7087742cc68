"""The whole path on PostgreSQL with a real Celery worker and a real Chromium: a batch closes with its
last rating, the worker scrutinizes it, it waits in the review queue, an admin approves it by keyboard,
the MOS changes, and the audit trail shows both decisions."""

import pytest

from annotation.models import AuditEvent, Batch, GoldenScore, ItemScore
from annotation.services.assignment import batch_request
from annotation.services.mos import mos_aggregate
from annotation.services.ratings import rating_submit
from tests.browser import login
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory, ItemFactory
from tests.scrutiny.conftest import make_golden, with_media


@pytest.mark.browser
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_close_scrutinize_review_by_keyboard_mos_and_audit(celery_worker, page, live_server, make_user):
    campaign = CampaignFactory(batch_size=3, golden_per_batch=4, min_golden=8, ratings_per_image=3)
    with_media(make_golden(campaign))
    regular = with_media([ItemFactory(campaign=campaign) for _ in range(3)])
    golden = {(g.item_id, g.dimension): g.score for g in GoldenScore.objects.all()}
    # one earlier, approved rater: the items' MOS before this batch counts
    earlier = make_user("annotator")
    batch0, _ = batch_request(campaign=campaign, user=earlier)
    for task in batch0.tasks.order_by("position"):
        rating_submit(task_id=task.pk, user=earlier, scores={"quality": 2, "alignment": 2})
    wait_for(
        lambda: Batch.objects.filter(pk=batch0.pk, scrutinized_at__isnull=False).exists(),
        timeout=60,
        what="the worker's scrutiny of the first batch",
    )
    Batch.objects.filter(pk=batch0.pk).update(decision="approved")  # as an admin would have (not the subject here)

    annotator = make_user("annotator")
    batch, _ = batch_request(campaign=campaign, user=annotator)
    for task in batch.tasks.order_by("position"):
        scores = {d: round(golden.get((task.item_id, d), 4)) for d in ("quality", "alignment")}
        rating_submit(task_id=task.pk, user=annotator, scores=scores)
    done = wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, scrutinized_at__isnull=False).first(),
        timeout=60,
        what="the worker's scrutiny",
    )
    # four golden items are too few to approve on: an admin decides
    assert done.decision == "needs_review" and "too few golden items so far" in done.decision_reason
    before = {s.item_id: (s.mos, s.n) for s in mos_aggregate(campaign=campaign).scores.filter(dimension="quality")}
    assert {before[i.pk] for i in regular} == {(2.0, 1)}

    admin = make_user("admin")
    login(page, live_server, admin.username)
    page.goto(f"{live_server.url}/desk/")
    page.click("#start-review")
    page.locator("h1", has_text=f"Batch #{batch.pk}").wait_for()
    page.locator("body[data-desk-ready]").wait_for(state="attached")  # the keys are live
    page.keyboard.press("a")
    page.locator(".messages", has_text=f"Batch {batch.pk} approved").wait_for()
    assert Batch.objects.get(pk=batch.pk).decision == "approved"

    after = {s.item_id: (s.mos, s.n) for s in mos_aggregate(campaign=campaign).scores.filter(dimension="quality")}
    assert {after[i.pk] for i in regular} == {(3.0, 2)}  # (2 + 4) / 2: the approved batch now counts
    events = list(AuditEvent.objects.filter(batch=batch).order_by("pk").values_list("source", "before", "after"))
    assert events == [("auto", "pending", "needs_review"), ("admin", "needs_review", "approved")]
    assert ItemScore.objects.filter(item__in=regular).exists()
    assert page.console_errors == []
