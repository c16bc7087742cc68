"""Expert mode: golden items that still need expert ratings, and golden score = mean of expert ratings."""

import pytest

from annotation.models import Batch, GoldenScore, Item
from annotation.services.golden import expert_batch_request
from annotation.services.ratings import rating_submit
from core.errors import Conflict, Forbidden
from tests.factories import CampaignFactory, ItemFactory


@pytest.fixture
def expert_campaign(db):
    campaign = CampaignFactory(batch_size=10, expert_ratings_per_golden=2)
    golden = [ItemFactory(campaign=campaign, is_golden=True) for _ in range(3)]
    ItemFactory(campaign=campaign)  # not golden: never in expert batches
    return campaign, golden


def rate_all(batch, user, scores):
    for task, (q, a) in zip(batch.tasks.order_by("position"), scores):
        rating_submit(task_id=task.pk, user=user, scores={"quality": q, "alignment": a})


def test_an_expert_batch_leases_the_golden_items(expert_campaign, make_user):
    campaign, golden = expert_campaign
    batch, created = expert_batch_request(campaign=campaign, user=make_user("expert"))
    assert created and batch.kind == Batch.Kind.EXPERT and batch.status == "open"
    assert sorted(batch.tasks.values_list("item_id", flat=True)) == sorted(i.pk for i in golden)
    assert list(Item.objects.filter(pk__in=[i.pk for i in golden]).values_list("active_count", flat=True)) == [1, 1, 1]


def test_asking_again_returns_the_open_expert_batch(expert_campaign, make_user):
    campaign, _ = expert_campaign
    expert = make_user("expert")
    first, _ = expert_batch_request(campaign=campaign, user=expert)
    assert expert_batch_request(campaign=campaign, user=expert) == (first, False)


def test_the_golden_score_is_the_mean_of_the_expert_ratings(expert_campaign, make_user):
    campaign, golden = expert_campaign
    for scores in ([(4, 2)] * 3, [(5, 3)] * 3):
        expert = make_user("expert")
        batch, _ = expert_batch_request(campaign=campaign, user=expert)
        rate_all(batch, expert, scores)
        batch.refresh_from_db()
        assert batch.status == "closed"
    assert sorted(
        GoldenScore.objects.filter(item=golden[0]).values_list("dimension", "score", "n_experts", "source")
    ) == [("alignment", 2.5, 2, "experts"), ("quality", 4.5, 2, "experts")]
    # Each item has its two expert ratings: a third expert finds no work.
    assert expert_batch_request(campaign=campaign, user=make_user("expert")) == (None, False)


def test_an_expert_never_gets_an_item_twice_and_leases_count_towards_the_need(expert_campaign, make_user):
    campaign, golden = expert_campaign
    campaign.expert_ratings_per_golden = 1
    campaign.save()
    expert = make_user("expert")
    batch, _ = expert_batch_request(campaign=campaign, user=expert)
    # All three items are leased to the first expert: none is left for a second one meanwhile.
    assert expert_batch_request(campaign=campaign, user=make_user("expert")) == (None, False)
    rate_all(batch, expert, [(3, 3)] * 3)
    campaign.expert_ratings_per_golden = 2
    campaign.save()
    assert expert_batch_request(campaign=campaign, user=expert) == (None, False)


def test_items_with_imported_golden_scores_need_no_experts(expert_campaign, make_user):
    campaign, golden = expert_campaign
    GoldenScore.objects.create(item=golden[0], dimension="quality", score=3, source="imported")
    batch, _ = expert_batch_request(campaign=campaign, user=make_user("expert"))
    assert golden[0].pk not in set(batch.tasks.values_list("item_id", flat=True))


def test_annotators_cannot_use_expert_mode(expert_campaign, make_user):
    campaign, _ = expert_campaign
    with pytest.raises(Forbidden):
        expert_batch_request(campaign=campaign, user=make_user("annotator"))


def test_an_open_annotation_batch_must_be_finished_first(expert_campaign, make_user):
    campaign, _ = expert_campaign
    expert = make_user("expert")
    Batch.objects.create(campaign=campaign, annotator=expert)
    with pytest.raises(Conflict, match="open annotation batch"):
        expert_batch_request(campaign=campaign, user=expert)


def test_a_paused_expert_gets_no_batch(expert_campaign, make_user):
    from annotation.services.scrutiny import annotator_pause

    campaign, _ = expert_campaign
    expert = make_user("expert")
    annotator_pause(user=expert, reason="holiday")
    with pytest.raises(Forbidden, match="paused"):
        expert_batch_request(campaign=campaign, user=expert)


def test_expert_mode_through_the_rating_api_makes_golden_scores(expert_campaign, client_as):
    campaign, golden = expert_campaign
    client, expert = client_as("expert")
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {"mode": "expert"}, format="json")
    assert response.status_code == 201, response.content
    tasks = response.json()["tasks"]
    assert len(tasks) == 3 and "golden" not in response.content.decode().lower()
    for task in tasks:
        r = client.post(f"/api/v1/tasks/{task['id']}/rating/", {"quality": 2, "alignment": 5}, format="json")
        assert r.status_code in (200, 201), r.content
    assert sorted(GoldenScore.objects.values_list("item_id", "dimension", "score", "n_experts")) == sorted(
        (i.pk, d, s, 1) for i in golden for d, s in (("quality", 2.0), ("alignment", 5.0))
    )
    annotator_client, _ = client_as("annotator")
    response = annotator_client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {"mode": "expert"}, format="json")
    assert response.status_code == 403
