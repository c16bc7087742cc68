"""A rejected batch's items go back to the assignment pool; approving the batch again restores them."""

import pytest

from annotation.models import Item, Rating
from annotation.services.assignment import batch_request
from annotation.services.scrutiny import batch_admin_decide, batch_decide
from core.errors import Conflict, InvalidInput
from tests.factories import CampaignFactory, ItemFactory
from tests.scrutiny.conftest import closed_batch


@pytest.fixture
def full_campaign(db, make_user):
    """Four items each rated once by annotator A, with target 1: nothing left to assign."""
    campaign = CampaignFactory(batch_size=4, golden_per_batch=0)
    items = [ItemFactory(campaign=campaign, target=1) for _ in range(4)]
    batch = closed_batch(campaign, make_user(), [(i, 2, 2) for i in items])
    return campaign, items, batch


def counts(items):
    return [c for _, c in sorted(Item.objects.filter(pk__in=[i.pk for i in items]).values_list("pk", "active_count"))]


def test_rejection_returns_the_items_to_the_pool_and_another_annotator_gets_them(full_campaign, make_user):
    campaign, items, batch = full_campaign
    other = make_user()
    assert batch_request(campaign=campaign, user=other) == (None, False)
    batch_admin_decide(batch_id=batch.pk, decision="reject", reason="random clicking", user=make_user("admin"))
    assert counts(items) == [0, 0, 0, 0]
    assert Rating.objects.filter(batch=batch).count() == 4  # kept, only excluded from MOS
    new_batch, created = batch_request(campaign=campaign, user=other)
    assert created and sorted(new_batch.tasks.values_list("item_id", flat=True)) == sorted(i.pk for i in items)
    assert counts(items) == [1, 1, 1, 1]


def test_approving_a_rejected_batch_restores_the_counts(full_campaign, make_user):
    _, items, batch = full_campaign
    admin = make_user("admin")
    batch_admin_decide(batch_id=batch.pk, decision="reject", reason="looked random", user=admin)
    batch_admin_decide(batch_id=batch.pk, decision="approve", reason="", user=admin)
    assert counts(items) == [1, 1, 1, 1]
    batch.refresh_from_db()
    assert (batch.decision, batch.decided_by, batch.decision_source) == ("approved", admin, "admin")


def test_repeated_decisions_move_the_counters_once(full_campaign, make_user):
    _, items, batch = full_campaign
    for _ in range(2):
        batch_decide(batch=batch, decision="rejected", source="auto", reason="low SRCC")
    assert counts(items) == [0, 0, 0, 0]
    batch_decide(batch=batch, decision="needs_review", source="auto", reason="x")
    batch_decide(batch=batch, decision="approved", source="auto", reason="y")
    assert counts(items) == [1, 1, 1, 1]


def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(full_campaign, make_user):
    _, items, batch = full_campaign
    with pytest.raises(InvalidInput, match="needs a reason"):
        batch_admin_decide(batch_id=batch.pk, decision="reject", reason="  ", user=make_user("admin"))
    batch.refresh_from_db()
    assert batch.decision == "pending" and counts(items) == [1, 1, 1, 1]


def test_an_expert_batch_cannot_be_decided(scrutiny_campaign, make_user):
    from annotation.models import Batch

    item = ItemFactory(campaign=scrutiny_campaign, is_golden=True)
    batch = closed_batch(scrutiny_campaign, make_user("expert"), [(item, 3, 3)], kind=Batch.Kind.EXPERT)
    with pytest.raises(Conflict, match="expert batch"):
        batch_admin_decide(batch_id=batch.pk, decision="reject", reason="no", user=make_user("admin"))
