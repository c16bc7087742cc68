"""Builders for scrutiny tests: campaigns with a scored golden sample, and closed batches of ratings
written the way the rating service leaves them (rated tasks, ratings, active_count counted)."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.utils import timezone

from annotation.models import Batch, GoldenScore, Item, Rating, Task
from tests.factories import CampaignFactory, ItemFactory

# Ten golden scores per dimension, spread over the scale (alignment a shuffled copy).
GOLDEN_Q = [1.0, 1.5, 2.0, 2.3, 3.0, 3.2, 3.8, 4.1, 4.6, 5.0]
GOLDEN_A = [4.0, 2.0, 5.0, 1.0, 3.5, 2.5, 4.5, 1.5, 3.0, 4.8]


@pytest.fixture
def scrutiny_campaign(db):
    """The fixed method (the paper's protocol): these tests pin its rules; tests/scrutiny/test_calibrated*.py
    cover the default method."""
    return CampaignFactory(
        min_golden=8, approve_threshold=0.7, reject_threshold=0.4, batch_size=4, scrutiny_method="fixed"
    )


def make_golden(campaign, quality=GOLDEN_Q, alignment=GOLDEN_A, generator=None):
    """Golden items with imported golden scores; returns the items in order."""
    items = []
    for q, a in zip(quality, alignment):
        item = ItemFactory(campaign=campaign, is_golden=True, **({"generator": generator} if generator else {}))
        if q is not None:
            GoldenScore.objects.create(item=item, dimension="quality", score=q, source="imported")
        if a is not None:
            GoldenScore.objects.create(item=item, dimension="alignment", score=a, source="imported")
        items.append(item)
    return items


def closed_batch(campaign, annotator, scores, *, kind=Batch.Kind.ANNOTATION, decision=Batch.Decision.PENDING):
    """A closed batch holding `scores` = [(item, quality, alignment), ...] as rated tasks + ratings,
    each counted once in Item.active_count (the state the rating service leaves a closed batch in)."""
    now = timezone.now()
    batch = Batch.objects.create(
        campaign=campaign, annotator=annotator, kind=kind, status=Batch.Status.CLOSED, closed_at=now, decision=decision
    )
    for pos, (item, q, a) in enumerate(scores):
        task = Task.objects.create(
            batch=batch,
            item=item,
            annotator=annotator,
            position=pos,
            is_golden=item.is_golden,
            status=Task.Status.RATED,
            lease_expires_at=now,
        )
        Rating.objects.create(annotator=annotator, item=item, batch=batch, task=task, quality=q, alignment=a)
    Item.objects.filter(pk__in=[s[0].pk for s in scores]).update(active_count=F("active_count") + 1)
    return batch


def rounded(values):
    return [min(5, max(1, round(v))) for v in values]


def with_media(items):
    """Give factory items real (tiny PNG) media and thumbnails in storage, so pages can show them."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.factories import make_png

    png = make_png(48, 32, (40, 120, 200))
    for item in items:
        item.media.name = default_storage.save(f"scrutiny-test/{item.item_id}.png", ContentFile(png))
        item.thumbnail.name = default_storage.save(f"scrutiny-test/{item.item_id}-t.png", ContentFile(png))
        item.save()
    return items
