import pytest
from django.db import IntegrityError, transaction

from annotation.models import Batch, Campaign, Rating, Task
from tests.factories import CampaignFactory, ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_item_id_is_unique_within_a_campaign():
    item = ItemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemFactory(campaign=item.campaign, item_id=item.item_id)
    ItemFactory(item_id=item.item_id)  # another campaign may reuse it


def test_campaign_defaults_follow_the_paper():
    c = Campaign.objects.create(slug="paper", name="Paper")
    assert (c.ratings_per_image, c.ratings_per_video) == (6, 3)
    assert c.dimensions == ["quality", "alignment"]


def test_campaign_must_rate_a_dimension():
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignFactory(rate_quality=False, rate_alignment=False)


def test_campaign_thresholds_are_ordered():
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignFactory(approve_threshold=0.3, reject_threshold=0.5)


def _batch(item, user):
    return Batch.objects.create(campaign=item.campaign, annotator=user)


def test_one_open_batch_per_annotator_and_campaign():
    item, user = ItemFactory(), UserFactory()
    _batch(item, user)
    with pytest.raises(IntegrityError), transaction.atomic():
        _batch(item, user)


def test_rating_unique_per_annotator_and_item_and_in_range():
    from django.utils import timezone

    item, user = ItemFactory(), UserFactory()
    batch = _batch(item, user)
    Rating.objects.create(annotator=user, item=item, batch=batch, quality=3, alignment=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(annotator=user, item=item, batch=batch, quality=2, alignment=2)
    other = ItemFactory(campaign=item.campaign)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(annotator=user, item=other, batch=batch, quality=6)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(annotator=user, item=other, batch=batch)
    Task.objects.create(batch=batch, item=other, annotator=user, lease_expires_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(batch=batch, item=other, annotator=user, lease_expires_at=timezone.now())


def test_changing_targets_in_the_django_admin_retargets_the_items(client):
    from django.contrib.auth import get_user_model

    item = ItemFactory()
    campaign = item.campaign
    admin_user = get_user_model().objects.create_superuser("root", "root@example.org", "pass-word-1")
    client.force_login(admin_user)
    data = {
        f.name: getattr(campaign, f.name)
        for f in Campaign._meta.fields
        if f.editable and f.name not in ("id", "anchors")
    }
    data.update(anchors="{}", ratings_per_image=9)
    data = {k: v for k, v in data.items() if v is not False}  # unchecked boxes are absent from a form post
    response = client.post(f"/admin/annotation/campaign/{campaign.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    item.refresh_from_db()
    assert item.target == 9
