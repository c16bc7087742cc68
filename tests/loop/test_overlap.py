"""Adaptive overlap and selection by value, on the real database: items stop where raters agree, get
more ratings where they scatter, only approved ratings count, the cap holds, the pool's guarantees hold."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotation.models import AnnotatorEvidence, Batch, Item, Rating, Task
from annotation.services.assignment import batch_request
from annotation.services.campaigns import campaign_update
from annotation.services.overlap import half_width, overlap_refresh
from annotation.services.scrutiny import batch_admin_decide, batch_decide
from tests.assignment.conftest import make_pool
from tests.factories import CampaignFactory, ItemFactory

pytestmark = pytest.mark.django_db


def adaptive(**kw):
    return CampaignFactory(
        overlap_policy="adaptive",
        min_ratings_per_image=3,
        max_ratings_per_item=6,
        overlap_ci_target=1.2,
        batch_size=4,
        **kw,
    )


def rate(campaign, item, annotator, q, a, *, decision=Batch.Decision.APPROVED):
    """One closed batch holding one rating of `item` (decision as given, counted as the rating service does)."""
    batch = Batch.objects.create(
        campaign=campaign,
        annotator=annotator,
        status="closed",
        decision=Batch.Decision.PENDING,
        closed_at=timezone.now(),
    )
    task = Task.objects.create(
        batch=batch, item=item, annotator=annotator, status="rated", lease_expires_at=timezone.now()
    )
    Rating.objects.create(annotator=annotator, item=item, batch=batch, task=task, quality=q, alignment=a)
    Item.objects.filter(pk=item.pk).update(active_count=item.active_count + 1)
    item.refresh_from_db()
    if decision != Batch.Decision.PENDING:
        batch_decide(batch=batch, decision=decision, source="auto", reason="test")
    return batch


def test_a_new_item_starts_at_the_minimum():
    campaign = adaptive()
    assert ItemFactory(campaign=campaign).target == 3
    assert CampaignFactory().target_for("image") == 6  # the paper's fixed target otherwise


def test_an_item_raters_agree_on_stops_at_the_minimum_and_one_they_scatter_on_gets_more(make_user):
    campaign = adaptive()
    agreed, scattered = ItemFactory(campaign=campaign), ItemFactory(campaign=campaign)
    raters = [make_user("annotator") for _ in range(3)]
    for rater in raters:
        rate(campaign, agreed, rater, 4, 2)
    for rater, score in zip(raters, (1, 5, 3)):
        rate(campaign, scattered, rater, score, 3)
    agreed.refresh_from_db()
    scattered.refresh_from_db()
    assert agreed.target == 3  # three agreeing raters: precise enough
    assert scattered.target == 4  # 1, 5, 3: one more
    assert agreed.priority < scattered.priority  # and value selection would prefer the scattered one


def test_only_approved_ratings_count_and_the_cap_holds(make_user):
    campaign = adaptive()
    item = ItemFactory(campaign=campaign)
    for k in range(3):
        rate(campaign, item, make_user("annotator"), 1 + 2 * (k % 3), 3, decision=Batch.Decision.PENDING)
    item.refresh_from_db()
    assert item.target == 3  # pending ratings decide nothing
    for batch in Batch.objects.filter(ratings__item=item):
        batch_decide(batch=batch, decision=Batch.Decision.APPROVED, source="auto", reason="")
    item.refresh_from_db()
    assert item.target == 4
    for score in (1, 5, 2):
        rate(campaign, item, make_user("annotator"), score, 3)
    item.refresh_from_db()
    assert (item.target, item.active_count) == (6, 6)  # still scattered, but never above max_ratings_per_item


def test_careful_raters_weigh_more(make_user):
    """The same three scores stop sooner from raters whose golden evidence says they are careful."""
    campaign = adaptive()
    careful = [make_user("annotator") for _ in range(3)]
    careless = [make_user("annotator") for _ in range(3)]
    for rater in careful:
        AnnotatorEvidence.objects.create(
            campaign=campaign,
            annotator=rater,
            n_golden=100,
            figures={d: {"n_golden": 100, "resid_var": 0.15} for d in ("quality", "alignment")},
        )
    for rater in careless:
        AnnotatorEvidence.objects.create(
            campaign=campaign,
            annotator=rater,
            n_golden=100,
            figures={d: {"n_golden": 100, "resid_var": 2.5} for d in ("quality", "alignment")},
        )
    a, b = ItemFactory(campaign=campaign), ItemFactory(campaign=campaign)
    for rater, score in zip(careful, (3, 4, 3)):
        rate(campaign, a, rater, score, score)
    for rater, score in zip(careless, (3, 4, 3)):
        rate(campaign, b, rater, score, score)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.target, b.target) == (3, 4)


def test_half_width_narrows_with_agreement_and_with_more_ratings():
    import numpy as np

    ones = np.ones(6)
    assert half_width(np.array([3, 3, 3.0]), ones[:3]) < half_width(np.array([1, 5, 3.0]), ones[:3])
    assert half_width(np.array([3, 4] * 3, dtype=float), ones) < half_width(np.array([3, 4, 3], dtype=float), ones[:3])


def test_switching_a_campaign_to_adaptive_retargets_its_items(make_user):
    campaign = CampaignFactory(batch_size=4)
    items = [ItemFactory(campaign=campaign) for _ in range(3)]
    assert {i.target for i in items} == {6}
    campaign_update(campaign=campaign, overlap_policy="adaptive", min_ratings_per_image=2)
    assert set(Item.objects.filter(campaign=campaign).values_list("target", flat=True)) == {2}
    campaign_update(campaign=campaign, overlap_policy="fixed")
    assert set(Item.objects.filter(campaign=campaign).values_list("target", flat=True)) == {6}


def test_value_selection_takes_the_least_settled_items_and_keeps_the_round_robin(make_user):
    campaign = CampaignFactory(selection_policy="value", batch_size=2, golden_per_batch=0)
    items = make_pool(campaign, n=8, generators=2)
    # two items already rated a lot: their next rating is worth least
    Item.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(active_count=4)
    overlap_refresh(campaign=campaign)
    Item.objects.filter(campaign=campaign).update(priority_scale=1.0)
    from annotation.services.selection import priority_expression

    Item.objects.filter(campaign=campaign).update(priority=priority_expression())
    batch, _ = batch_request(campaign=campaign, user=make_user("annotator"))
    leased = set(batch.tasks.values_list("item_id", flat=True))
    assert not leased & {items[0].pk, items[1].pk}
    assert len({Item.objects.get(pk=i).generator_id for i in leased}) == 2  # one per generator
    # the lease itself lowers the leased items' priority: the next annotator goes elsewhere
    untouched = next(i for i in items[2:] if i.pk not in leased)
    fresh = Item.objects.get(pk=untouched.pk).priority
    assert all(Item.objects.get(pk=i).priority < fresh for i in leased)


def test_held_items_never_reach_the_pool(make_user):
    campaign = CampaignFactory(batch_size=4)
    items = make_pool(campaign, n=4, generators=1)
    Item.objects.filter(pk=items[0].pk).update(is_held=True)
    batch, _ = batch_request(campaign=campaign, user=make_user("annotator"))
    assert items[0].pk not in set(batch.tasks.values_list("item_id", flat=True))
    assert batch.tasks.count() == 3


def test_collection_settings_api_is_validated(client_as):
    campaign = CampaignFactory()
    client, _ = client_as("researcher")
    url = f"/api/v1/campaigns/{campaign.slug}/collection-settings/"
    assert client.get(url).json()["overlap_policy"] == "fixed"
    ok = client.patch(url, {"overlap_policy": "adaptive", "overlap_ci_target": 1.0}, format="json")
    assert ok.status_code == 200 and ok.json()["overlap_policy"] == "adaptive"
    bad = client.patch(url, {"min_ratings_per_image": 50}, format="json")
    assert (
        bad.status_code == 400
        and "min_ratings_per_image must be between 1 and max_ratings_per_item" in bad.json()["detail"]
    )
    assert client.patch(url, {"batch_size": 3}, format="json").status_code == 400
    annotator, _ = client_as("annotator")
    assert annotator.get(url).status_code == 403


def test_rejecting_an_approved_batch_looks_at_its_items_again(make_user):
    campaign = adaptive()
    item = ItemFactory(campaign=campaign)
    batches = [rate(campaign, item, make_user("annotator"), 4, 4) for _ in range(3)]
    item.refresh_from_db()
    assert item.target == 3
    admin = make_user("admin")
    batch_admin_decide(batch_id=batches[0].pk, decision="reject", reason="careless", user=admin)
    item.refresh_from_db()
    assert item.target == 3 and item.active_count == 2  # back in the pool for one rating


def test_coverage_and_disagreement_raise_the_priority_of_what_is_under_rated(make_user):
    from annotation.services.selection import W_COVERAGE, selection_refresh
    from tests.factories import PromptFactory

    campaign = CampaignFactory(selection_policy="value")
    rated_cat = [ItemFactory(campaign=campaign, prompt=PromptFactory(category="Entity Generation")) for _ in range(3)]
    starved = ItemFactory(campaign=campaign, prompt=PromptFactory(category="Interaction Ability"))
    for item in rated_cat:
        rate(campaign, item, make_user("annotator"), 3, 3)
    selection_refresh(campaign=campaign, disagreement={rated_cat[0].pk: 0.4})
    starved.refresh_from_db()
    first = Item.objects.get(pk=rated_cat[0].pk)
    second = Item.objects.get(pk=rated_cat[1].pk)
    assert starved.priority_bonus == pytest.approx(W_COVERAGE)  # its category has no approved rating yet
    assert first.priority_bonus == pytest.approx(0.4) and second.priority_bonus == 0.0
    assert starved.priority > second.priority


def test_the_closed_loop_tick_reopens_items_when_a_raters_evidence_turns(make_user):
    from training.services.retraining import closed_loop_tick

    campaign = adaptive()
    item = ItemFactory(campaign=campaign)
    raters = [make_user("annotator") for _ in range(3)]
    for rater in raters:
        rate(campaign, item, rater, 3, 3)
    item.refresh_from_db()
    assert item.target == 3
    # golden evidence arrives: these three raters are very noisy
    for rater in raters:
        AnnotatorEvidence.objects.create(
            campaign=campaign,
            annotator=rater,
            n_golden=200,
            figures={d: {"n_golden": 200, "resid_var": 3.0} for d in ("quality", "alignment")},
        )
    closed_loop_tick()
    item.refresh_from_db()
    assert item.target == 4
